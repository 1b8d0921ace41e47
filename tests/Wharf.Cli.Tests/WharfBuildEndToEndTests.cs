using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The build verbs against a real Wharf in accounts mode with real buildah, each as a separate <c>wharf</c> process with
/// the credentials <c>wharf login</c> stored: build from a context folder, builds, status, logs, a failing build, retry.
/// </summary>
public sealed class WharfBuildEndToEndTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wbld");
    private readonly TempDirectory _bossHome = TempDirectory.Create("wbbs");
    private readonly TempDirectory _bobHome = TempDirectory.Create("wbbb");
    private readonly TempDirectory _strangerHome = TempDirectory.Create("wbst");
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(6));
    private WharfTestServer _server = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync() =>
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Builds:PollInterval=00:00:00.200");

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
        await _bossHome.DisposeAsync();
        await _bobHome.DisposeAsync();
        await _strangerHome.DisposeAsync();
        _timeout.Dispose();
    }

    private async Task<WharfCli> AccountAsync(TempDirectory home, string user)
    {
        var cli = new WharfCli(home);
        (await cli.RunAsync(["signup", "--server", _server.HostPort, "-u", user, "--password-stdin"], $"{user}-password-1", Ct)).EnsureSuccess();
        (await cli.RunAsync(["login", _server.HostPort, "-u", user, "--password-stdin"], $"{user}-password-1", Ct)).EnsureSuccess();
        return cli;
    }

    [Fact]
    public async Task Build_builds_status_logs_a_failing_build_and_retry_work_end_to_end_with_the_stored_login()
    {
        // The administrator (first account) publishes the base image as the public library/busybox, with wharf itself.
        var boss = await AccountAsync(_bossHome, "boss");
        (await boss.RunAsync("create", "library/busybox", "--public")).EnsureSuccess();
        var busybox = await TestImages.Busybox().WriteDockerArchiveAsync(_bossHome.Combine("busybox.tar"), "library/busybox:latest", Ct);
        (await boss.RunAsync("push", "library/busybox:latest", "--from", busybox.Path)).EnsureSuccess();
        var baseImage = $"{_server.HostPort}/library/busybox:latest";

        var alice = await AccountAsync(_dir, "alice");
        var context = _dir.CreateSubdirectory("ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), "ARG BASE\nFROM ${BASE}\nCOPY note.txt /note.txt\nRUN echo cli-build-ran && cat /note.txt\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(context, "note.txt"), "from the cli context\n", Ct);

        // wharf build from a context folder: the server of the last login, its stored credentials; the log streams to stdout.
        var built = await alice.RunAsync(["build", "-t", "alice/app:1", "--build-arg", $"BASE={baseImage}", context], null, Ct);
        Assert.True(built.ExitCode == 0, built.Describe());
        Assert.Contains("cli-build-ran", built.Output);
        Assert.Contains("from the cli context", built.Output);
        Assert.Contains("succeeded", built.Error);
        // The image landed in alice/app and pulls back with the same digest the build reports.
        var id = built.Error.Split([' ', '\n']).First(word => Guid.TryParse(word, out _));
        var status = (await alice.RunAsync("status", id, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("succeeded", (string)status["state"]!);
        Assert.Equal("alice/app:1", (string)status["image"]!);
        (await alice.RunAsync("pull", "alice/app:1", "--to", _dir.Combine("back"))).EnsureSuccess();
        Assert.Equal((string)status["digest"]!, (await TestImages.ReadOciLayoutAsync(_dir.Combine("back"), "1", Ct)).ManifestDigest);

        // -o json: exactly one JSON document, the finished build, and no log lines.
        var asJson = await alice.RunAsync(["build", "-t", "alice/app:2", "--build-arg", $"BASE={baseImage}", context, "-o", "json"], null, Ct);
        Assert.True(asJson.ExitCode == 0, asJson.Describe());
        Assert.Equal("succeeded", (string)asJson.Json["state"]!);
        Assert.StartsWith("sha256:", (string)asJson.Json["digest"]!, StringComparison.Ordinal);
        Assert.DoesNotContain("cli-build-ran", asJson.Output);

        // A failing build (a Dockerfile alone, -f) exits non-zero with its log shown.
        var failingFile = _dir.Combine("Failing.Dockerfile");
        await File.WriteAllTextAsync(failingFile, $"FROM {baseImage}\nRUN echo cli-fails && exit 4\n", Ct);
        var failed = await alice.RunAsync(["build", "-t", "alice/broken:1", "-f", failingFile], null, Ct);
        Assert.True(failed.ExitCode == 1, failed.Describe());
        Assert.Contains("cli-fails", failed.Output);

        // wharf builds: a table for people, JSON for scripts, filtered by state.
        var table = (await alice.RunAsync("builds")).EnsureSuccess();
        Assert.Contains("alice/broken:1", table.Output);
        Assert.Contains("alice/app:1", table.Output);
        var failedList = (await alice.RunAsync("builds", "--state", "failed", "-o", "json")).EnsureSuccess().Json["builds"]!.AsArray();
        var failedBuild = Assert.Single(failedList)!;
        Assert.Equal("alice/broken:1", (string)failedBuild["image"]!);
        var failedId = (string)failedBuild["id"]!;

        var failedStatus = (await alice.RunAsync("status", failedId)).EnsureSuccess();
        Assert.Contains("failed", failedStatus.Output);
        Assert.Contains("build:", failedStatus.Output);
        var logs = (await alice.RunAsync("logs", failedId)).EnsureSuccess();
        Assert.Contains("cli-fails", logs.Output);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", logs.Output);

        // retry puts it back in the queue; following its log exits non-zero as it fails again.
        var retry = (await alice.RunAsync("retry", failedId, "-o", "json")).EnsureSuccess();
        Assert.Equal(failedId, (string)retry.Json["id"]!);
        var follow = await alice.RunAsync("logs", "-f", failedId);
        Assert.True(follow.ExitCode == 1, follow.Describe());
        Assert.Contains("cli-fails", follow.Output);
        Assert.Equal(2, (int)(await alice.RunAsync("status", failedId, "-o", "json")).EnsureSuccess().Json["build_runs"]!);

        // The exit codes of docs/cli.md: a finished build cannot be cancelled (2), an unknown one is not found (3).
        var cancel = await alice.RunAsync("cancel", failedId);
        Assert.True(cancel.ExitCode == 2, cancel.Describe());
        var unknown = await alice.RunAsync("status", Guid.NewGuid().ToString());
        Assert.True(unknown.ExitCode == 3, unknown.Describe());
        var notAnId = await alice.RunAsync("logs", "not-an-id");
        Assert.True(notAnId.ExitCode == 2, notAnId.Describe());

        // Someone else's build is not found; someone else's namespace is refused (4); without a login, 4 with a hint.
        var bob = await AccountAsync(_bobHome, "bob");
        var hidden = await bob.RunAsync("status", failedId);
        Assert.True(hidden.ExitCode == 3, hidden.Describe());
        var intoBob = await alice.RunAsync(["build", "-t", "bob/app:1", "-f", failingFile], null, Ct);
        Assert.True(intoBob.ExitCode == 4, intoBob.Describe());
        Assert.Contains("bob/app", intoBob.Error);
        var stranger = new WharfCli(_strangerHome);
        var anonymous = await stranger.RunAsync(["build", "-t", "alice/app:3", "-f", failingFile, "--server", _server.HostPort], null, Ct);
        Assert.True(anonymous.ExitCode == 4, anonymous.Describe());
    }

    [Fact]
    public async Task Build_help_lists_the_global_server_option_once()
    {
        var help = (await new WharfCli(_dir).RunAsync("build", "--help")).EnsureSuccess();
        Assert.Single(help.Output.Split('\n'), line => line.TrimStart().StartsWith("-s, --server", StringComparison.Ordinal) || line.TrimStart().StartsWith("--server", StringComparison.Ordinal));
        Assert.Contains("--output", help.Output);
    }
}
