using System.Text.Json.Nodes;
using Wharf.Client.Builds;
using Wharf.Client.Credentials;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary><c>-o json</c> says everything the server knows, names images as written, and the client's own files are plain UTF-8.</summary>
public sealed class JsonOutputTests : IAsyncLifetime
{
    private readonly TempDirectory _home = TempDirectory.Create("wjo");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        // No build workers: a submitted build stays queued until it is cancelled.
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--workers", "0");
        _cli = new WharfCli(_home);
        (await _cli.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", CancellationToken.None)).EnsureSuccess();
        (await _cli.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", CancellationToken.None)).EnsureSuccess();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _home.DisposeAsync();
    }

    [Fact]
    public async Task A_builds_json_has_its_target_and_build_args_and_a_cancelled_build_says_so_in_its_error_kind()
    {
        var dockerfile = _home.Combine("Dockerfile");
        await File.WriteAllTextAsync(dockerfile, "FROM scratch AS base\nARG VERSION\nFROM base AS runtime\n");
        using var client = new BuildsClient(new Uri(_server.BaseUrl), new RegistryCredential("alice", "alice-password"));
        var submitted = await client.SubmitAsync(new BuildRequest
        {
            Image = "alice/app:1",
            DockerfilePath = dockerfile,
            Target = "runtime",
            BuildArgs = new Dictionary<string, string> { ["VERSION"] = "1.2", ["MODE"] = "release" },
        }, CancellationToken.None);

        var status = (await _cli.RunAsync("status", submitted.Id, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("runtime", (string)status["target"]!);
        Assert.Equal("1.2", (string)status["build_args"]!["VERSION"]!);
        Assert.Equal("release", (string)status["build_args"]!["MODE"]!);
        Assert.Equal("alice/app", (string)status["repository"]!);
        Assert.Equal("1", (string)status["tag"]!);
        Assert.Equal("alice", (string)status["owner"]!);

        var cancelled = (await _cli.RunAsync("cancel", submitted.Id, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("cancelled", (string)cancelled["state"]!);
        Assert.Equal("cancelled", (string)cancelled["error"]!["kind"]!);
        Assert.False(string.IsNullOrEmpty((string?)cancelled["error"]!["message"]));
        var listed = (await _cli.RunAsync("builds", "-o", "json")).EnsureSuccess().Json["builds"]!.AsArray().Single()!;
        Assert.Equal("cancelled", (string)listed["error"]!["kind"]!);
        Assert.Equal("runtime", (string)listed["target"]!);
    }

    [Fact]
    public async Task Inspect_by_digest_names_the_image_with_an_at_sign_and_the_client_config_has_no_byte_order_mark()
    {
        var layout = await TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 8 * 1024 }).WriteOciLayoutAsync(_home.Combine("layout"), "1", CancellationToken.None);
        (await _cli.RunAsync("push", "alice/app:1", "--from", layout.LayoutPath)).EnsureSuccess();

        var inspect = (await _cli.RunAsync("inspect", $"alice/app@{layout.ManifestDigest}")).EnsureSuccess();
        Assert.Contains($"Name:        {_server.HostPort}/alice/app@{layout.ManifestDigest}", inspect.Output, StringComparison.Ordinal);
        Assert.DoesNotContain($"alice/app:{layout.ManifestDigest}", inspect.Output, StringComparison.Ordinal);
        var removed = (await _cli.RunAsync("rm", $"alice/app@{layout.ManifestDigest}")).EnsureSuccess();
        Assert.Contains($"Deleted alice/app@{layout.ManifestDigest}", removed.Output, StringComparison.Ordinal);

        var config = await File.ReadAllBytesAsync(Path.Combine(_cli.ConfigHome, "wharf", "config.json"));
        Assert.Equal((byte)'{', config[0]);
        Assert.Equal(_server.BaseUrl, (string)JsonNode.Parse(config)!["server"]!);
    }
}
