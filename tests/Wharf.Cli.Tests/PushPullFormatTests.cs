using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// What push and pull write and say: an OCI layout that skopeo and umoci read by tag, a docker-archive of several images
/// pushed under a new name, and progress that fits 80 columns in one unit system.
/// </summary>
public sealed partial class PushPullFormatTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wpf");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync();
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Fact]
    public async Task A_docker_schema2_image_pulled_into_an_oci_layout_is_read_by_tag_by_skopeo_and_umoci()
    {
        var ct = CancellationToken.None;
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine("busybox.tar"), "busybox:1", ct);
        var pushed = (await _cli.RunAsync("push", $"{_server.HostPort}/tools/busybox:1", "--from", archive.Path, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", (string)pushed["media_type"]!);

        var layout = _dir.Combine("layout");
        var pulled = (await _cli.RunAsync("pull", $"{_server.HostPort}/tools/busybox:1", "--to", layout, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal((string)pushed["digest"]!, (string)pulled["digest"]!);
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", (string)pulled["layout_media_type"]!);

        // skopeo finds the tag and reads the same config and layers as were pushed.
        var inspect = await ExternalTool.RunCheckedAsync("skopeo", ["inspect", "--raw", $"oci:{layout}:1"]);
        var manifest = JsonNode.Parse(inspect.StandardOutput)!;
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", (string)manifest["mediaType"]!);
        Assert.Equal("application/vnd.oci.image.config.v1+json", (string)manifest["config"]!["mediaType"]!);
        Assert.Equal(archive.ConfigDigest, (string)manifest["config"]!["digest"]!);
        Assert.All(manifest["layers"]!.AsArray(), l => Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", (string)l!["mediaType"]!));
        Assert.Equal((string)pulled["layout_digest"]!, (await TestImages.ReadOciLayoutAsync(layout, "1", ct)).ManifestDigest);

        // umoci unpacks it by tag into a bundle with busybox in its root file system.
        var bundle = _dir.Combine("bundle");
        await ExternalTool.RunCheckedAsync("umoci", ["unpack", "--rootless", "--image", $"{layout}:1", bundle]);
        Assert.True(File.Exists(Path.Combine(bundle, "rootfs", "bin", "busybox")), "umoci's bundle has no /bin/busybox");

        // And the layout pushes back with skopeo: same config, same layers.
        await Skopeo.CopyAsync($"oci:{layout}:1", $"docker://{_server.HostPort}/tools/busybox-back:1", null, ct);
        var back = await RegistryHttp.GetManifestAsync(new RegistryEndpoint(_server, _server.HostPort, _server.BaseUrl), "tools/busybox-back", "1", ct);
        Assert.Equal(archive.ConfigDigest, (string?)back.Json["config"]?["digest"]);
    }

    [Fact]
    public async Task A_gzipped_docker_save_of_several_images_is_pushed_under_a_new_name_by_picking_one_and_errors_name_the_users_file()
    {
        var ct = CancellationToken.None;
        var first = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 8 * 1024, Seed = 1 });
        var second = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 8 * 1024, Seed = 2 });
        var plain = _dir.Combine("two.tar");
        await TestImage.WriteDockerArchiveAsync(plain, [(first, "first:1"), (second, "example.test/second:2"), (first, null)], ct);
        var gzipped = _dir.Combine("two.tar.gz");
        await using (var input = File.OpenRead(plain))
        await using (var output = new GZipStream(File.Create(gzipped), CompressionLevel.Fastest))
        {
            await input.CopyToAsync(output, ct);
        }

        var ambiguous = await _cli.RunAsync("push", $"{_server.HostPort}/team/app:1", "--from", gzipped);
        Assert.True(ambiguous.ExitCode == 2, ambiguous.Describe());
        Assert.Contains($"{gzipped} holds 3 images: first:1 (@0), example.test/second:2 (@1), @2 (untagged).", ambiguous.Error, StringComparison.Ordinal);
        Assert.Contains("--image first:1", ambiguous.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("wharf-gunzip", ambiguous.Error, StringComparison.Ordinal);

        var bySecondTag = (await _cli.RunAsync("push", $"{_server.HostPort}/team/app:1", "--from", gzipped, "--image", "second:2", "-o", "json")).EnsureSuccess().Json;
        var byIndex = (await _cli.RunAsync("push", $"{_server.HostPort}/team/app:2", "--from", gzipped, "--image", "@0", "-o", "json")).EnsureSuccess().Json;
        var api = new RegistryEndpoint(_server, _server.HostPort, _server.BaseUrl);
        Assert.Equal(second.ConfigDigest, (string?)(await RegistryHttp.GetManifestAsync(api, "team/app", "1", ct)).Json["config"]?["digest"]);
        Assert.Equal(first.ConfigDigest, (string?)(await RegistryHttp.GetManifestAsync(api, "team/app", "2", ct)).Json["config"]?["digest"]);
        Assert.NotEqual((string)bySecondTag["digest"]!, (string)byIndex["digest"]!);

        var missing = await _cli.RunAsync("push", $"{_server.HostPort}/team/app:3", "--from", gzipped, "--image", "third:3");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"{gzipped} has no image tagged third:3", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_progress_reports_the_compressed_size_as_compressed_in_one_unit_system()
    {
        var ct = CancellationToken.None;
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 96 * 1024, Seed = 3 });
        var archive = await image.WriteDockerArchiveAsync(_dir.Combine("image.tar"), "image:1", ct);

        var push = (await _cli.RunAsync("push", $"{_server.HostPort}/team/plain:1", "--from", archive.Path)).EnsureSuccess();

        foreach (var layer in image.Layers)
        {
            var hex = layer.DiffId["sha256:".Length..][..12];
            var uncompressed = $"{layer.Tar.Length / 1024.0:0.#} KiB";
            Assert.Matches($@"(?m)^gzip {hex}: compressed {Regex.Escape(uncompressed)} to \d+(\.\d)? (B|KiB|MiB)$", push.Output);
        }
        Assert.Matches(@"(?m)^[0-9a-f]{12}: pushed \(\d+(\.\d)? (B|KiB|MiB)\)$", push.Output);
        Assert.DoesNotMatch(@"\d (KB|MB|GB)\b", push.Output);
    }

    [Fact]
    public async Task At_80_columns_every_progress_row_of_a_docker_archive_push_keeps_its_bar_and_percentage()
    {
        var ct = CancellationToken.None;
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 256 * 1024, Seed = 4 });
        var archive = await image.WriteDockerArchiveAsync(_dir.Combine("wide.tar"), "wide:1", ct);
        var wharf = $"dotnet {Path.Combine(AppContext.BaseDirectory, "wharf.dll")} push {_server.HostPort}/team/wide:1 --from {archive.Path}";

        // A real terminal of 80 columns: script(1) gives the client a pseudo-terminal.
        var env = new Dictionary<string, string?>(_cli.Environment) { ["TERM"] = "xterm", ["XDG_CONFIG_HOME"] = _cli.ConfigHome, ["DOCKER_CONFIG"] = _cli.DockerConfigDirectory, ["XDG_CACHE_HOME"] = _dir.Combine("cache") };
        var run = await ExternalTool.RunAsync("script", ["-qfec", $"stty cols 80 rows 40; {wharf}", "/dev/null"], new ToolRunOptions { Environment = env, Timeout = TimeSpan.FromMinutes(2) });
        Assert.True(run.ExitCode == 0, run.Describe());

        var screen = Ansi().Replace(run.StandardOutput, "").Replace("\r", "\n");
        var rows = screen.Split('\n').Select(r => r.TrimEnd()).Where(r => r.Contains("gzip ", StringComparison.Ordinal) || Regex.IsMatch(r, "^[0-9a-f]{12} ")).ToList();
        Assert.NotEmpty(rows);
        var finished = rows.Where(r => r.Contains(" compressed ", StringComparison.Ordinal) || r.Contains(" pushed ", StringComparison.Ordinal)).ToList();
        Assert.True(finished.Count >= 5, string.Join("\n", rows)); // two layers compressed; two layers and the config pushed
        Assert.All(finished, r =>
        {
            Assert.True(r.Length <= 80, $"wider than 80 columns: '{r}'");
            Assert.Contains("━", r, StringComparison.Ordinal);
            Assert.Contains("100%", r, StringComparison.Ordinal);
            Assert.Matches(@"(B|KiB|MiB)/\d", r);
        });
        Assert.DoesNotMatch("[0-9a-f]{64}", string.Join("\n", rows));
    }

    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07\x1b]*(\x07|\x1b\\)|[=>])")]
    private static partial Regex Ansi();
}
