using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>Push from and pull into a real Docker daemon (the fixture's private dockerd, reached through DOCKER_HOST).</summary>
[Collection(DockerDaemonCollection.Name)]
public sealed class DaemonTests(DockerDaemonFixture docker) : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wdmn");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartRecordingAsync();
        _cli = new WharfCli(_dir) { DockerHost = docker.Host };
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Fact]
    public async Task Push_from_the_daemon_then_pull_into_it_gives_a_runnable_image_with_the_same_id()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine("busybox.tar"), "alice/daemon-bb:1", cts.Token);
        await docker.DockerCheckedAsync(["load", "-i", archive.Path], cts.Token);

        var push = (await _cli.RunAsync(["push", "alice/daemon-bb:1", "--server", _server.HostPort, "-o", "json"], null, cts.Token)).EnsureSuccess();
        Assert.Equal(2, (int)push.Json["blobs_uploaded"]!);
        Assert.Contains("Docker daemon", (string)push.Json["source"]!);

        // What landed in Wharf is the daemon's image: same config (image id), same layer content.
        (await _cli.RunAsync(["pull", "alice/daemon-bb:1", "--to", _dir.Combine("layout"), "--server", _server.HostPort], null, cts.Token)).EnsureSuccess();
        var layout = await TestImages.ReadOciLayoutAsync(_dir.Combine("layout"), "1", cts.Token);
        Assert.Equal(archive.ConfigDigest, layout.ConfigDigest);
        Assert.Equal(archive.DiffIds, layout.Layers.Select(l => l.DiffId));

        // A second push through the daemon uploads nothing.
        _server.Requests!.Clear();
        var again = (await _cli.RunAsync(["push", "alice/daemon-bb:1", "--server", _server.HostPort, "-o", "json"], null, cts.Token)).EnsureSuccess();
        Assert.Equal(0, (int)again.Json["blobs_uploaded"]!);
        Assert.Equal(0, _server.Requests.BlobUploadRequests);

        // Plain output says how much docker save wrote (it streams: no total is known beforehand).
        var plain = (await _cli.RunAsync(["push", "alice/daemon-bb:1", "--server", _server.HostPort], null, cts.Token)).EnsureSuccess();
        Assert.Matches(@"(?m)^docker save alice/daemon-bb:1: saved \([1-9][0-9.]* (KiB|MiB)\)$", plain.Output);
        Assert.DoesNotContain("saved (0 B)", plain.Output);

        // Pull into the daemon under the registry's name, then run it.
        var name = $"{_server.HostPort}/alice/daemon-bb:1";
        await docker.DockerAsync(["rmi", "-f", name], cts.Token);
        (await _cli.RunAsync(["pull", name], null, cts.Token)).EnsureSuccess();
        var id = await docker.DockerCheckedAsync(["image", "inspect", "--format", "{{.Id}}", name], cts.Token);
        Assert.Equal(archive.ConfigDigest, id.StandardOutput.Trim());
        var run = await docker.DockerCheckedAsync(["run", "--rm", "--network", "none", name, "echo", "pulled by wharf"], cts.Token);
        Assert.Contains("pulled by wharf", run.StandardOutput);
    }

    [Fact]
    public async Task Pushing_an_image_the_daemon_does_not_have_exits_with_3()
    {
        var result = await _cli.RunAsync("push", "alice/not-in-docker:1", "--server", _server.HostPort);
        Assert.True(result.ExitCode == 3, result.Describe());
        Assert.Contains("docker tag", result.Error);
    }
}
