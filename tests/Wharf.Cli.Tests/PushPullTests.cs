using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>Push and pull with no Docker daemon: docker-archives, OCI layouts and OCI archives against a real Wharf.</summary>
public sealed class PushPullTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wcli");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartRecordingAsync();
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    private string[] Server => ["--server", _server.HostPort];

    [Fact]
    public async Task Push_from_a_docker_archive_then_pull_back_as_OCI_layout_and_docker_archive_keeps_every_digest()
    {
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine("busybox.tar"), "alice/busybox:1", CancellationToken.None);

        var push = (await _cli.RunAsync(["push", "alice/busybox:1", "--from", archive.Path, "-o", "json", .. Server])).EnsureSuccess();
        var digest = (string)push.Json["digest"]!;
        Assert.Equal(2, (int)push.Json["blobs_uploaded"]!); // config + one layer

        var pulled = (await _cli.RunAsync(["pull", "alice/busybox:1", "--to", _dir.Combine("layout"), "-o", "json", .. Server])).EnsureSuccess();
        Assert.Equal(digest, (string)pulled.Json["digest"]!);
        // The layout holds the OCI manifest the Docker one stands for (an OCI layout names OCI media types only): same blobs.
        var layout = await TestImages.ReadOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        Assert.Equal((string)pulled.Json["layout_digest"]!, layout.ManifestDigest);
        Assert.Equal(archive.ConfigDigest, layout.ConfigDigest);
        Assert.Equal(archive.DiffIds, layout.Layers.Select(l => l.DiffId));

        (await _cli.RunAsync(["pull", "alice/busybox:1", "--to", _dir.Combine("back.tar"), .. Server])).EnsureSuccess();
        var back = await TestImages.ReadDockerArchiveAsync(_dir.Combine("back.tar"), CancellationToken.None);
        Assert.Equal(archive.ConfigDigest, back.ConfigDigest);
        Assert.Equal(archive.DiffIds, back.DiffIds);
        Assert.Equal($"{_server.HostPort}/alice/busybox:1", back.RepoTag);

        // The registry holds what the CLI said it pushed.
        var manifest = await RegistryHttp.GetManifestAsync(new RegistryEndpoint(_server, _server.HostPort, _server.BaseUrl), "alice/busybox", "1", CancellationToken.None);
        Assert.Equal(digest, manifest.Digest);
    }

    [Fact]
    public async Task Push_from_an_OCI_layout_keeps_the_layouts_manifest_digest_and_pull_returns_the_same_blobs()
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 3, LayerSize = 512 * 1024 });
        var written = await image.WriteOciLayoutAsync(_dir.Combine("src"), "v1", CancellationToken.None);

        var push = (await _cli.RunAsync(["push", "alice/random:v1", "--from", written.LayoutPath, "-o", "json", .. Server])).EnsureSuccess();
        Assert.Equal(image.ManifestDigest, (string)push.Json["digest"]!);
        Assert.Equal(4, (int)push.Json["blobs_uploaded"]!);

        (await _cli.RunAsync(["pull", $"{_server.HostPort}/alice/random:v1", "--to", _dir.Combine("dst")])).EnsureSuccess();
        var pulled = await TestImages.ReadOciLayoutAsync(_dir.Combine("dst"), "v1", CancellationToken.None);
        Assert.Equal(written.ManifestDigest, pulled.ManifestDigest);
        Assert.Equal(written.Layers, pulled.Layers);
    }

    [Fact]
    public async Task Push_from_an_OCI_archive_file_works_like_the_layout_folder()
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1 });
        var written = await image.WriteOciLayoutAsync(_dir.Combine("layout"), "v1", CancellationToken.None);
        await ExternalTool.RunCheckedAsync("tar", ["-C", written.LayoutPath, "-cf", _dir.Combine("image.oci.tar"), "."]);

        var push = (await _cli.RunAsync(["push", "alice/ociarchive:v1", "--from", _dir.Combine("image.oci.tar"), "-o", "json", .. Server])).EnsureSuccess();
        Assert.Equal(image.ManifestDigest, (string)push.Json["digest"]!);
    }

    [Fact]
    public async Task A_second_push_of_the_same_image_uploads_no_blob()
    {
        var archive = await TestImages.RandomImage(new RandomImageOptions { Layers = 3, LayerSize = 1024 * 1024 })
            .WriteDockerArchiveAsync(_dir.Combine("image.tar"), "alice/again:1", CancellationToken.None);
        (await _cli.RunAsync(["push", "alice/again:1", "--from", archive.Path, .. Server])).EnsureSuccess();
        Assert.True(_server.Requests!.BlobUploadRequests >= 4, "the first push uploads config and layers");

        _server.Requests.Clear();
        var second = (await _cli.RunAsync(["push", "alice/again:1", "--from", archive.Path, "-o", "json", .. Server])).EnsureSuccess();

        Assert.Equal(0, _server.Requests.BlobUploadRequests);
        Assert.Equal(0, _server.Requests.Count("POST", "/blobs/uploads/"));
        Assert.Equal(4, _server.Requests.Count("HEAD", "/blobs/sha256:"));
        Assert.Equal(0, (int)second.Json["blobs_uploaded"]!);
        Assert.Equal(4, (int)second.Json["blobs_skipped"]!);
        Assert.Equal(0L, (long)second.Json["bytes_uploaded"]!);
    }

    [Fact]
    public async Task Pushing_into_another_repository_mounts_the_blobs_instead_of_uploading_them()
    {
        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 2 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        (await _cli.RunAsync(["push", "alice/first:1", "--from", written.LayoutPath, .. Server])).EnsureSuccess();
        _server.Requests!.Clear();

        var second = (await _cli.RunAsync(["push", "alice/second:1", "--from", written.LayoutPath, "-o", "json", .. Server])).EnsureSuccess();

        Assert.Equal(3, (int)second.Json["blobs_mounted"]!);
        Assert.Equal(0, _server.Requests.BlobUploadRequests);
        Assert.Equal(3, _server.Requests.Count("POST", "/v2/alice/second/blobs/uploads/"));
    }

    [Fact]
    public async Task Pull_picks_the_requested_platform_from_an_index_pushed_by_skopeo()
    {
        var amd = TestImages.RandomImage(new RandomImageOptions { Layers = 1, Architecture = "amd64", Seed = 1 });
        var arm = TestImages.RandomImage(new RandomImageOptions { Layers = 1, Architecture = "arm64", Variant = "v8", Seed = 2 });
        var layout = _dir.Combine("multi");
        await IndexLayouts.WriteIndexAsync(layout, "multi", [amd, arm], CancellationToken.None);
        await Skopeo.CopyAsync($"oci:{layout}:multi", $"docker://{_server.HostPort}/alice/multi:1", null, CancellationToken.None, "--all");

        (await _cli.RunAsync(["pull", "alice/multi:1", "--platform", "linux/arm64", "--to", _dir.Combine("arm"), .. Server])).EnsureSuccess();
        Assert.Equal(arm.ManifestDigest, (await TestImages.ReadOciLayoutAsync(_dir.Combine("arm"), "1", CancellationToken.None)).ManifestDigest);

        (await _cli.RunAsync(["pull", "alice/multi:1", "--platform", "linux/amd64", "--to", _dir.Combine("amd"), .. Server])).EnsureSuccess();
        Assert.Equal(amd.ManifestDigest, (await TestImages.ReadOciLayoutAsync(_dir.Combine("amd"), "1", CancellationToken.None)).ManifestDigest);

        var missing = await _cli.RunAsync(["pull", "alice/multi:1", "--platform", "linux/s390x", "--to", _dir.Combine("none"), .. Server]);
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("linux/arm64/v8", missing.Error);

        var tags = (await _cli.RunAsync(["tags", "alice/multi", "-o", "json", .. Server])).EnsureSuccess();
        var platforms = tags.Json["tags"]![0]!["platforms"]!.AsArray().Select(p => (string)p!).ToList();
        Assert.Equal(["linux/amd64", "linux/arm64/v8"], platforms);
    }

    [Fact]
    public async Task Pushing_an_index_from_an_OCI_layout_pushes_every_platform()
    {
        var amd = TestImages.RandomImage(new RandomImageOptions { Layers = 1, Architecture = "amd64" });
        var arm = TestImages.RandomImage(new RandomImageOptions { Layers = 1, Architecture = "arm64" });
        var indexDigest = await IndexLayouts.WriteIndexAsync(_dir.Combine("multi"), "multi", [amd, arm], CancellationToken.None);

        var push = (await _cli.RunAsync(["push", "alice/both:1", "--from", _dir.Combine("multi"), "-o", "json", .. Server])).EnsureSuccess();

        Assert.Equal(indexDigest, (string)push.Json["digest"]!);
        await Skopeo.CopyAsync($"docker://{_server.HostPort}/alice/both:1", $"oci:{_dir.Combine("check")}:x", null, CancellationToken.None, "--all");
    }

    [Fact]
    public async Task Tags_inspect_and_rm_describe_and_remove_what_was_pushed()
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024 });
        var written = await image.WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        (await _cli.RunAsync(["push", "alice/app:1", "--from", written.LayoutPath, .. Server])).EnsureSuccess();
        (await _cli.RunAsync(["push", "alice/app:2", "--from", written.LayoutPath, .. Server])).EnsureSuccess();

        var tags = (await _cli.RunAsync(["tags", "alice/app", "-o", "json", .. Server])).EnsureSuccess();
        var rows = tags.Json["tags"]!.AsArray();
        Assert.Equal(["1", "2"], rows.Select(r => (string)r!["tag"]!));
        Assert.All(rows, r => Assert.Equal(image.ManifestDigest, (string)r!["digest"]!));
        Assert.All(rows, r => Assert.Equal(image.Layers.Sum(l => l.Size), (long)r!["size"]!));
        var table = (await _cli.RunAsync(["tags", "alice/app", .. Server])).EnsureSuccess();
        Assert.Contains(image.ManifestDigest, table.Output);

        var inspect = (await _cli.RunAsync(["inspect", "alice/app:1", "-o", "json", .. Server])).EnsureSuccess();
        Assert.Equal(image.ManifestDigest, (string)inspect.Json["digest"]!);
        Assert.Equal(image.Layers.Select(l => l.Digest), inspect.Json["layers"]!.AsArray().Select(l => (string)l!["digest"]!));
        Assert.Equal(image.Architecture, (string)inspect.Json["config"]!["architecture"]!);
        var inspectText = (await _cli.RunAsync(["inspect", "alice/app:1", .. Server])).EnsureSuccess();
        Assert.Contains(image.ConfigDigest, inspectText.Output);

        (await _cli.RunAsync(["rm", "alice/app:1", .. Server])).EnsureSuccess();
        var after = (await _cli.RunAsync(["tags", "alice/app", "-o", "json", .. Server])).EnsureSuccess();
        Assert.Equal(["2"], after.Json["tags"]!.AsArray().Select(r => (string)r!["tag"]!));
        Assert.Equal(3, (await _cli.RunAsync(["inspect", "alice/app:1", .. Server])).ExitCode);
        Assert.Equal(3, (await _cli.RunAsync(["rm", "alice/app:1", .. Server])).ExitCode);
    }

    [Fact]
    public async Task The_server_comes_from_WHARF_SERVER_when_no_option_names_it()
    {
        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 1 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        _cli.Environment["WHARF_SERVER"] = _server.HostPort;

        (await _cli.RunAsync(["push", "alice/env:1", "--from", written.LayoutPath])).EnsureSuccess();

        Assert.True(_server.Requests!.Count("PUT", "/v2/alice/env/manifests/1") == 1);
    }
}
