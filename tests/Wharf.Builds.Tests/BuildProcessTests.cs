using System.Net;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// A build's processes end with it, whatever ends it: the timeout, a cancel, or the server dying (the next start kills
/// what the dead one left). Processes are found by an <c>ENV</c> marker the Dockerfile sets and by the server's data
/// folder on engine command lines, so ones reparented to PID 1 are found too.
/// </summary>
[Trait("Category", "Builds")]
public sealed class BuildProcessTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static string State(JsonNode build) => build["state"]!.GetValue<string>();

    /// <summary>
    /// A Dockerfile whose RUN step logs "sleep-started" (the step's own line shows <c>sleep"-"started</c>, so a log wait
    /// ends only once the step runs) and sleeps 300 s, its processes marked with <paramref name="mark"/>.
    /// </summary>
    internal static string Sleeper(string baseImage, string mark) =>
        $"FROM {baseImage}\nENV WHARF_TEST_MARK={mark}\nRUN echo sleep\"-\"started && sleep 300\n";

    internal static IReadOnlyList<HostProcess> Marked(string mark, string? dataDir = null) =>
        HostProcesses.Find("WHARF_TEST_MARK", mark, dataDir);

    [Fact]
    public async Task A_build_stopped_by_its_timeout_leaves_no_process_behind()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:BuildTimeout=00:00:30");
        var mark = Guid.NewGuid().ToString("N");
        var id = await server.SubmitOkAsync(Sleeper(server.BaseImage, mark), "procs/timeout:1", Ct);
        await server.WaitForLogAsync(id, "sleep-started", Ct);
        Assert.NotEmpty(Marked(mark));

        var build = await server.WaitForEndAsync(id, Ct);

        Assert.Equal("timed_out", State(build));
        var left = await HostProcesses.WaitUntilGoneAsync(() => Marked(mark, server.Server.DataDir), TimeSpan.FromSeconds(5), Ct);
        Assert.True(left.Count == 0, "left behind:\n" + string.Join('\n', left));
    }

    [Fact]
    public async Task A_cancelled_build_leaves_no_process_behind()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var mark = Guid.NewGuid().ToString("N");
        var id = await server.SubmitOkAsync(Sleeper(server.BaseImage, mark), "procs/cancel:1", Ct);
        await server.WaitForLogAsync(id, "sleep-started", Ct);
        Assert.NotEmpty(Marked(mark));

        using (var cancel = await server.Http.PostAsync($"api/v1/builds/{id}/cancel", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
        Assert.Equal("cancelled", State(await server.WaitForEndAsync(id, Ct)));

        var left = await HostProcesses.WaitUntilGoneAsync(() => Marked(mark, server.Server.DataDir), TimeSpan.FromSeconds(5), Ct);
        Assert.True(left.Count == 0, "left behind:\n" + string.Join('\n', left));
    }

    [Fact]
    public async Task Processes_a_killed_server_left_running_are_killed_when_it_starts_again_before_the_build_runs_again()
    {
        await using var data = TempDirectory.Create("crash");
        await using var buildTemp = TempDirectory.Create("crash-bt");
        var mark = Guid.NewGuid().ToString("N");
        string id;
        IReadOnlyList<HostProcess> orphans;
        await using (var first = await ServeProcess.StartAsync(data.Path, buildTemp.Path, Ct, "--Wharf:Builds:LeaseDuration=00:00:03"))
        {
            var view = await BuildServer.OverAsync(first, Ct);
            // A short name: the restarted server listens on another port, and "busybox" is Wharf's library/busybox on any port.
            id = await view.SubmitOkAsync(Sleeper("busybox", mark), "procs/crash:1", Ct);
            await view.WaitForLogAsync(id, "sleep-started", Ct);

            await first.KillAsync();

            // The crash leaves the build's processes running, reparented away from the dead server.
            orphans = Marked(mark);
            Assert.NotEmpty(orphans);
        }

        await using var second = await ServeProcess.StartAsync(data.Path, buildTemp.Path, Ct, "--Wharf:Builds:LeaseDuration=00:00:03");
        var left = await HostProcesses.WaitUntilGoneAsync(() => Marked(mark).Where(p => orphans.Any(o => o.Pid == p.Pid)).ToList(), TimeSpan.FromSeconds(30), Ct);
        Assert.True(left.Count == 0, "the restarted server left the dead one's processes running:\n" + string.Join('\n', left) + "\n" + second.Output);

        // The lapsed lease hands the build to the new server, which runs it again (alone: the old run is gone).
        var again = await BuildServer.OverAsync(second, Ct, pushBase: false);
        await again.WaitForLogAsync(id, "sleep-started", Ct, after: 1);
        Assert.DoesNotContain(Marked(mark), p => orphans.Any(o => o.Pid == p.Pid));
        using (var cancel = await again.Http.PostAsync($"api/v1/builds/{id}/cancel", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
        var build = await again.WaitForEndAsync(id, Ct);
        Assert.Equal("cancelled", State(build));
        Assert.Equal(2, build["attempts"]!.GetValue<int>());
        var remaining = await HostProcesses.WaitUntilGoneAsync(() => Marked(mark, data.Path).Where(p => p.Pid != second.Pid).ToList(), TimeSpan.FromSeconds(5), Ct);
        Assert.True(remaining.Count == 0, "left behind:\n" + string.Join('\n', remaining));
    }

    [Fact]
    public async Task A_worker_whose_lease_lapsed_stops_its_run_and_the_build_runs_again_instead_of_twice_at_once()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:LeaseDuration=00:00:03");
        var mark = Guid.NewGuid().ToString("N");
        var id = await server.SubmitOkAsync(
            $"FROM {server.BaseImage}\nENV WHARF_TEST_MARK={mark}\nRUN echo run\"-\"started && sleep 4 && echo done > /done.txt\n", "procs/lapsed:1", Ct);
        await server.WaitForLogAsync(id, "run-started", Ct);
        var firstRun = Marked(mark);
        Assert.NotEmpty(firstRun);

        // The worker stalls past its lease (as a paused process or a slow disk would make it): the lease lapses in the
        // database, with the worker still running. It must notice and stop, not build on beside the next run.
        await using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.Server.DataDir, "wharf.db")}"))
        {
            await db.OpenAsync(Ct);
            await using var expire = db.CreateCommand();
            expire.CommandText = "UPDATE builds SET lease_expires_at = 1 WHERE id = $id";
            expire.Parameters.AddWithValue("$id", id);
            Assert.Equal(1, await expire.ExecuteNonQueryAsync(Ct));
        }

        var build = await server.AssertSucceededAsync(id, Ct);
        Assert.Equal(2, build["attempts"]!.GetValue<int>());
        Assert.Equal(2, build["build_runs"]!.GetValue<int>());
        Assert.DoesNotContain(Marked(mark), p => firstRun.Any(o => o.Pid == p.Pid));
        Assert.Equal("done\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "procs/lapsed", "1", "done.txt", Ct));
    }
}
