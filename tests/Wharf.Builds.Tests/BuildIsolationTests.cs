using System.Net;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>One open-mode Wharf shared by <see cref="BuildIsolationTests"/>, with a low process limit (64) and a test listener on loopback.</summary>
public sealed class IsolationFixture : IAsyncLifetime
{
    public const int MaxProcesses = 64;

    public BuildServer Server { get; private set; } = null!;

    /// <summary>A service on the host's loopback that no build may reach.</summary>
    public RecordingHttpListener Listener { get; } = new("host-only secret\n");

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Server = await BuildServer.StartAsync(timeout.Token, null, $"--Wharf:Builds:MaxProcesses={MaxProcesses}");
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Listener.DisposeAsync();
    }
}

/// <summary>
/// A build is a stranger's program: it runs as an unprivileged uid on the host, within a process limit, sees only its
/// own namespace's caches, and reaches nothing but Wharf and what the operator lists, checked before any engine starts.
/// </summary>
[Trait("Category", "Builds")]
public sealed class BuildIsolationTests(IsolationFixture fixture) : IClassFixture<IsolationFixture>
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private BuildServer Server => fixture.Server;

    private static string State(JsonNode build) => build["state"]!.GetValue<string>();

    [Fact]
    public async Task Root_in_a_build_is_uid_0_inside_and_an_unprivileged_uid_on_the_host()
    {
        var mark = Guid.NewGuid().ToString("N");
        var id = await Server.SubmitOkAsync(
            $"FROM busybox\nENV WHARF_TEST_MARK={mark}\nRUN echo inside-uid-$(id -u) && echo run\"-\"started && sleep 2\n", "iso/uid:1", Ct);
        await Server.WaitForLogAsync(id, "run-started", Ct);
        var processes = BuildProcessTests.Marked(mark);

        Assert.NotEmpty(processes);
        Assert.All(processes, p => Assert.True(p.Uid != 0, $"runs as root on the host: {p}"));
        await Server.AssertSucceededAsync(id, Ct);
        Assert.Contains("inside-uid-0", await Server.LogsAsync(id, Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fork_bomb_ends_the_build_at_the_process_limit_in_a_state_that_names_it()
    {
        var mark = Guid.NewGuid().ToString("N");
        var id = await Server.SubmitOkAsync($"FROM busybox\nENV WHARF_TEST_MARK={mark}\nRUN f(){{ f|f; }}; f\n", "iso/bomb:1", Ct);

        var build = await Server.WaitForEndAsync(id, Ct, TimeSpan.FromMinutes(1));

        Assert.True(State(build) == "failed" && build["error"]?["limit"]?.GetValue<string>() == "MaxProcesses", build.ToJsonString() + "\n" + await Server.LogsAsync(id, Ct));
        Assert.Contains($"Wharf:Builds:MaxProcesses = {IsolationFixture.MaxProcesses}", build["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var left = await HostProcesses.WaitUntilGoneAsync(() => BuildProcessTests.Marked(mark), TimeSpan.FromSeconds(5), Ct);
        Assert.True(left.Count == 0, "left behind:\n" + string.Join('\n', left));
    }

    [Fact]
    public async Task A_secret_written_to_a_cache_mount_by_one_namespace_is_unreadable_from_another()
    {
        const string secret = "cache-secret-of-alpha-5e1f";
        var write = await Server.SubmitOkAsync(
            $"FROM busybox\nRUN --mount=type=cache,id=shared,target=/cache echo {secret} > /cache/token && echo written\n", "alpha/writer:1", Ct);
        await Server.AssertSucceededAsync(write, Ct);
        const string reader = "FROM busybox\nRUN --mount=type=cache,id=shared,target=/cache cat /cache/token || echo no-token-here\n";

        var other = await Server.SubmitOkAsync(reader, "beta/reader:1", Ct);
        var same = await Server.SubmitOkAsync(reader.Replace("no-token-here", "no-token-in-alpha", StringComparison.Ordinal), "alpha/reader:1", Ct);
        await Server.AssertSucceededAsync(other, Ct);
        await Server.AssertSucceededAsync(same, Ct);

        var otherLog = await Server.LogsAsync(other, Ct);
        Assert.DoesNotContain(secret, otherLog, StringComparison.Ordinal);
        Assert.Contains(otherLog.Split('\n'), l => l.EndsWith("Z no-token-here", StringComparison.Ordinal));
        // The cache works within its namespace.
        Assert.Contains((await Server.LogsAsync(same, Ct)).Split('\n'), l => l.EndsWith("Z " + secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cache_id_that_climbs_out_of_the_cache_folder_is_refused_at_submit()
    {
        using var response = await Server.SubmitDockerfileAsync("FROM busybox\nRUN --mount=type=cache,id=../../../../etc,target=/x ls /x\n", "iso/escape:1", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Contains("cache id", JsonNode.Parse(body)!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ADD_of_a_loopback_url_is_refused_before_any_engine_starts_and_reads_the_same_for_an_open_and_a_closed_port()
    {
        var closedPort = FreePort.Next();
        var details = new List<string>();
        foreach (var url in new[] { fixture.Listener.Url + "secret", $"http://127.0.0.1:{closedPort}/secret" })
        {
            using var response = await Server.SubmitDockerfileAsync($"FROM busybox\nADD {url} /stolen\n", "iso/add:1", Ct);
            var body = await response.Content.ReadAsStringAsync(Ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
            details.Add(JsonNode.Parse(body)!["detail"]!.GetValue<string>().Replace(url, "URL", StringComparison.Ordinal));
        }
        // Hidden behind a variable, too.
        using (var viaArg = await Server.SubmitDockerfileAsync($"ARG SRC={fixture.Listener.Url}secret\nFROM busybox\nARG SRC\nADD $SRC /stolen\n", "iso/add:2", Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, viaArg.StatusCode);
        }

        Assert.Contains("Wharf:Builds:AllowedUrls", details[0], StringComparison.Ordinal);
        Assert.Equal(details[0], details[1]);
        Assert.Empty(fixture.Listener.Requests);
        var listed = JsonNode.Parse(await Server.Http.GetStringAsync("api/v1/builds?repository=iso/add", Ct))!;
        Assert.Empty(listed["builds"]!.AsArray());
    }

    [Fact]
    public async Task An_ONBUILD_trigger_of_a_base_image_that_fetches_a_loopback_url_is_refused_and_fetches_nothing()
    {
        // A base image made outside Wharf's builds (docker format keeps ONBUILD), pushed by its author.
        await using var work = TempDirectory.Create("onbuild");
        var buildah = Wharf.Testing.Buildah.In(work);
        var layout = await TestImages.Busybox().WriteOciLayoutAsync(work.Combine("layout"), "latest", Ct);
        var container = (await buildah.RunAsync(["from", layout.Reference], Ct)).StandardOutput.Trim().Split('\n').Last();
        await buildah.RunAsync(["config", "--onbuild", $"ADD {fixture.Listener.Url}onbuild /stolen", container], Ct);
        await buildah.RunAsync(["commit", "--format", "docker", container, "trap:1"], Ct);
        await buildah.RunAsync(["push", "--tls-verify=false", "trap:1", $"docker://{Server.HostPort}/library/trap:1"], Ct);

        var id = await Server.SubmitOkAsync("FROM trap:1\nRUN echo built\n", "iso/onbuild:1", Ct);
        var build = await Server.WaitForEndAsync(id, Ct);

        Assert.Equal("failed", State(build));
        var message = build["error"]!["message"]!.GetValue<string>();
        Assert.Contains("ONBUILD", message, StringComparison.Ordinal);
        Assert.Contains("Wharf:Builds:AllowedUrls", message, StringComparison.Ordinal);
        Assert.Empty(fixture.Listener.Requests);
    }

    [Fact]
    public async Task A_FROM_of_a_registry_that_is_neither_Wharf_nor_allowed_is_refused_naming_the_setting()
    {
        using var response = await Server.SubmitDockerfileAsync($"FROM 127.0.0.1:{FreePort.Next()}/library/busybox:latest\nRUN true\n", "iso/from:1", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Contains("Wharf:Builds:AllowedRegistries", JsonNode.Parse(body)!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        using var copyFrom = await Server.SubmitDockerfileAsync("FROM busybox\nCOPY --from=127.0.0.1:1/tools:1 /bin/tool /tool\n", "iso/from:2", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, copyFrom.StatusCode);
    }

    [Fact]
    public async Task Short_names_in_FROM_and_COPY_from_resolve_to_this_Wharf_and_the_sample_Dockerfile_builds_on_any_port()
    {
        var id = await Server.SubmitOkAsync("FROM busybox AS tools\nRUN echo from-a-stage > /stage.txt\nFROM library/busybox:latest\nCOPY --from=busybox /bin/busybox /copied\nCOPY --from=tools /stage.txt /stage.txt\n", "iso/short:1", Ct);
        await Server.AssertSucceededAsync(id, Ct);
        Assert.Equal("from-a-stage\n", await BuildServer.ReadFileFromImageAsync(Server.Registry, "iso/short", "1", "stage.txt", Ct));

        var sample = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "examples", "CustomDockerFile"), Ct);
        var example = await Server.SubmitOkAsync(sample, "iso/sample:1", Ct);
        await Server.AssertSucceededAsync(example, Ct);
        Assert.Equal("Hello from Wharf\n", await BuildServer.ReadFileFromImageAsync(Server.Registry, "iso/sample", "1", "srv/greeting.txt", Ct));
    }

    [Fact]
    public async Task A_context_that_passes_the_upload_checks_but_cannot_be_unpacked_leaves_no_work_folder()
    {
        // "a" is a file, then "a/b" needs it to be a folder: fine for the upload's checks, impossible to unpack.
        var archive = new ContextArchive().File("Dockerfile", "FROM busybox\n").File("a", new string('x', 256 * 1024)).File("a/b", "inside\n").Tar();
        using var response = await Server.SubmitContextAsync(archive, "iso/unpack:1", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();

        var build = await Server.WaitForEndAsync(id, Ct);

        Assert.Equal("failed", State(build));
        Assert.Contains("could not be unpacked", build["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Server.Server.DataDir, "builds", "work", Guid.Parse(id).ToString("N"))));
    }

    [Fact]
    public async Task Failed_and_cancelled_builds_leave_no_working_container_and_no_work_folder()
    {
        var failed = await Server.SubmitOkAsync("FROM busybox\nRUN echo big > /big.txt\nRUN exit 3\n", "cleanup/failed:1", Ct);
        Assert.Equal("failed", State(await Server.WaitForEndAsync(failed, Ct)));
        var cancelled = await Server.SubmitOkAsync("FROM busybox\nRUN echo run\"-\"started && sleep 300\n", "cleanup/cancelled:1", Ct);
        await Server.WaitForLogAsync(cancelled, "run-started", Ct);
        using (var cancel = await Server.Http.PostAsync($"api/v1/builds/{cancelled}/cancel", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
        Assert.Equal("cancelled", State(await Server.WaitForEndAsync(cancelled, Ct)));

        var storage = Path.Combine(Server.Server.DataDir, "builds", "storage", "cleanup");
        var containers = await ExternalTool.RunCheckedAsync("buildah",
            ["--storage-driver", "vfs", "--root", Path.Combine(storage, "root"), "--runroot", Path.Combine(storage, "run"), "containers", "--quiet"], new ToolRunOptions(), Ct);
        Assert.True(containers.StandardOutput.Trim().Length == 0, "working containers left: " + containers.StandardOutput);
        var work = Path.Combine(Server.Server.DataDir, "builds", "work");
        Assert.True(!Directory.Exists(work) || !Directory.EnumerateFileSystemEntries(work).Any(e => e.Contains(Guid.Parse(failed).ToString("N"), StringComparison.Ordinal) || e.Contains(Guid.Parse(cancelled).ToString("N"), StringComparison.Ordinal)));
    }

    internal static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Wharf.slnx"))) folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException("The repository root (Wharf.slnx) is not above " + AppContext.BaseDirectory);
    }
}
