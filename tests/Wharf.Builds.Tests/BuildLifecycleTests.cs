using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Builds;
using Wharf.Data.Sqlite;

namespace Wharf.Builds.Tests;

/// <summary>Timeouts, cancels, queue limits, restarts, lapsed leases and racing workers, with real buildah builds.</summary>
[Trait("Category", "Builds")]
public sealed class BuildLifecycleTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static string State(JsonNode build) => build["state"]!.GetValue<string>();

    [Fact]
    public async Task A_build_running_past_its_timeout_ends_timed_out_with_a_message_naming_the_timeout()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:BuildTimeout=00:00:04");
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo sleeping && sleep 60\n", "slow/app:1", Ct);
        var started = DateTime.UtcNow;
        var build = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("timed_out", State(build));
        Assert.Contains("build timeout", build["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("failed", build["build_status"]!.GetValue<string>());
        Assert.Equal("pending", build["push_status"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "the process tree was not killed promptly");
    }

    [Fact]
    public async Task Cancelling_during_a_run_step_stops_it_and_ends_cancelled()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo step-started && sleep 120\n", "cancel/app:1", Ct);
        await server.WaitForLogAsync(id, "step-started", Ct);
        using var cancel = await server.Http.PostAsync($"api/v1/builds/{id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var build = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("cancelled", State(build));
        Assert.Contains("Cancelled by request during the build", build["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed}");
        using var again = await server.Http.PostAsync($"api/v1/builds/{id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task A_build_waiting_past_the_queue_time_to_live_ends_timed_out_and_a_queued_build_can_be_cancelled()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:QueueTimeToLive=00:00:01");
        var blocker = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN sleep 3\n", "ttl/blocker:1", Ct);
        await server.WaitForStateAsync(blocker, "running", Ct);
        var waiting = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN true\n", "ttl/waiting:1", Ct);
        var cancelled = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN true\n", "ttl/cancelled:1", Ct);
        using (var cancel = await server.Http.PostAsync($"api/v1/builds/{cancelled}/cancel", null, Ct))
        {
            Assert.Equal("cancelled", State(JsonNode.Parse(await cancel.Content.ReadAsStringAsync(Ct))!));
        }
        await server.AssertSucceededAsync(blocker, Ct);
        var expired = await server.WaitForEndAsync(waiting, Ct);
        Assert.Equal("timed_out", State(expired));
        Assert.Contains("queue time-to-live", expired["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, expired["build_runs"]!.GetValue<int>());
    }

    [Fact]
    public async Task After_a_restart_a_queued_build_and_one_that_was_running_both_complete()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var running = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo running-step && sleep 3 && echo done > /done.txt\n", "restart/running:1", Ct);
        await server.WaitForLogAsync(running, "running-step", Ct);
        var queued = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo queued > /q.txt\n", "restart/queued:1", Ct);
        Assert.Equal("queued", State(await server.GetBuildAsync(queued, Ct)));

        await server.RestartAsync();

        var first = await server.AssertSucceededAsync(running, Ct);
        var second = await server.AssertSucceededAsync(queued, Ct);
        Assert.Equal(2, first["build_runs"]!.GetValue<int>()); // interrupted, then built again
        Assert.Equal(1, second["build_runs"]!.GetValue<int>());
        Assert.Equal("done\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "restart/running", "1", "done.txt", Ct));
    }

    [Fact]
    public async Task A_build_whose_worker_died_is_taken_up_again_when_its_lease_lapses()
    {
        await using var data = Wharf.Testing.TempDirectory.Create("lease");
        string id;
        await using (var first = await BuildServer.StartAsync(Ct, data.Path, "--workers", "0"))
        {
            // FROM scratch: the second server listens on another port, so a base image from the first would be unreachable.
            id = await first.SubmitOkAsync("FROM scratch\nLABEL taken=again\n", "lease/app:1", Ct);
            // A worker takes the build and dies at once: it never renews its 1 s lease.
            var leased = await first.Server.Services.GetRequiredService<IBuildStore>().LeaseNextAsync("dead-worker", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), 10, Ct);
            Assert.Equal(Guid.Parse(id), leased!.Id);
        }
        await using var second = await BuildServer.StartAsync(Ct, data.Path, "--Wharf:Builds:LeaseDuration=00:00:03");
        var build = await second.AssertSucceededAsync(id, Ct);
        Assert.Equal(2, build["attempts"]!.GetValue<int>());
        Assert.Equal(1, build["build_runs"]!.GetValue<int>());
    }

    [Fact]
    public async Task Two_servers_sharing_one_database_run_each_build_once()
    {
        await using var data = Wharf.Testing.TempDirectory.Create("race");
        await using var a = await BuildServer.StartAsync(Ct, data.Path, "--Wharf:Builds:PollInterval=00:00:00.020");
        await using var b = await BuildServer.StartAsync(Ct, data.Path, "--Wharf:Builds:PollInterval=00:00:00.020");
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var server = i % 2 == 0 ? a : b;
            // A short name: whichever server builds it pulls busybox from itself (a build reaches no other registry).
            ids.Add(await server.SubmitOkAsync($"FROM busybox\nRUN echo {i} > /n.txt\n", $"race/app{i}:1", Ct));
        }
        foreach (var id in ids)
        {
            var build = await a.AssertSucceededAsync(id, Ct);
            Assert.Equal(1, build["attempts"]!.GetValue<int>());
            Assert.Equal(1, build["build_runs"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task Concurrent_leases_from_separate_processes_hand_one_build_to_exactly_one_worker()
    {
        await using var data = Wharf.Testing.TempDirectory.Create("lease-race");
        var file = Path.Combine(data.Path, "wharf.db");
        using var setup = new SqliteConnectionFactory(SqliteOptions.ForFile(file));
        await new SqliteMigrator(setup).MigrateAsync(Ct);
        await new SqliteBuildStore(setup).CreateAsync(new BuildRecord
        {
            Id = Guid.NewGuid(), Namespace = "ns", Image = "ns/app:1", Repository = "ns/app", Tag = "1",
            SourceKind = BuildSourceKind.Dockerfile, CreatedAt = DateTimeOffset.UtcNow,
        }, Ct);
        // Each factory has its own writer gate, as separate processes would.
        var factories = Enumerable.Range(0, 8).Select(_ => new SqliteConnectionFactory(SqliteOptions.ForFile(file))).ToList();
        try
        {
            var results = await Task.WhenAll(factories.Select((f, i) => Task.Run(() =>
                new SqliteBuildStore(f).LeaseNextAsync($"worker-{i}", TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), 10, Ct))));
            Assert.Single(results, r => r is not null);
        }
        finally
        {
            foreach (var f in factories) f.Dispose();
        }
    }

    [Fact]
    public async Task Namespaces_take_turns_in_the_queue_so_one_namespace_cannot_hold_every_worker_while_another_waits()
    {
        await using var data = Wharf.Testing.TempDirectory.Create("turns");
        using var connections = new SqliteConnectionFactory(SqliteOptions.ForFile(Path.Combine(data.Path, "wharf.db")));
        await new SqliteMigrator(connections).MigrateAsync(Ct);
        var store = new SqliteBuildStore(connections);
        var start = DateTimeOffset.UtcNow;
        async Task<Guid> QueueAsync(string ns, int n)
        {
            var id = Guid.NewGuid();
            await store.CreateAsync(new BuildRecord
            {
                Id = id, Namespace = ns, Image = $"{ns}/app:{n}", Repository = $"{ns}/app", Tag = n.ToString(System.Globalization.CultureInfo.InvariantCulture),
                SourceKind = BuildSourceKind.Dockerfile, CreatedAt = start.AddMilliseconds(n),
            }, Ct);
            return id;
        }
        var busy = new[] { await QueueAsync("busy", 1), await QueueAsync("busy", 2), await QueueAsync("busy", 3), await QueueAsync("busy", 4) };
        var other = await QueueAsync("other", 5);
        var third = await QueueAsync("third", 6);
        Task<BuildRecord?> LeaseAsync(string worker) => store.LeaseNextAsync(worker, TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), 10, Ct);

        // Two workers: the busy namespace, first in line, gets one; the next goes to a namespace running nothing.
        var first = await LeaseAsync("w1");
        var second = await LeaseAsync("w2");
        Assert.Equal(busy[0], first!.Id);
        Assert.Equal(other, second!.Id);

        // When busy's build ends, the one served longest ago goes next: third (never), then busy again, not busy twice.
        Assert.True(await store.UpdateAsync(first with { State = BuildState.Succeeded, FinishedAt = DateTimeOffset.UtcNow }, "w1", Ct));
        Assert.Equal(third, (await LeaseAsync("w1"))!.Id);
        Assert.True(await store.UpdateAsync(second with { State = BuildState.Succeeded, FinishedAt = DateTimeOffset.UtcNow }, "w2", Ct));
        Assert.Equal(busy[1], (await LeaseAsync("w2"))!.Id);
    }

    [Fact]
    public void The_default_number_of_workers_follows_the_machine()
    {
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        int Expected(double cpus, long memoryMiB) => Math.Clamp(Math.Min((int)(Environment.ProcessorCount / cpus), (int)(memory / (memoryMiB * 1024 * 1024))), 1, 64);
        Assert.Equal(Expected(1, 2048), new BuildOptions().Workers);
        Assert.Equal(Expected(0.5, 1024), BuildOptions.DefaultWorkers(0.5, 1024));
    }

    /// <summary>
    /// The poll interval is an hour, far past this test's own time limit: a build that starts at all was started by the
    /// submit's wake-up signal, not by the poll. (How fast it starts is measured by bench/builds, not here.)
    /// </summary>
    [Fact]
    public async Task A_submitted_build_is_started_by_the_wake_up_signal_without_waiting_for_the_poll()
    {
        var poll = TimeSpan.FromHours(1);
        await using var server = await BuildServer.StartAsync(Ct, null, $"--Wharf:Builds:PollInterval={poll:c}");
        for (var i = 0; i < 3; i++)
        {
            var id = await server.SubmitOkAsync("FROM scratch\nLABEL n=" + i + "\n", $"latency/app:{i}", Ct);
            var build = await server.WaitForEndAsync(id, Ct);
            Assert.Equal("succeeded", State(build));
            var waited = build["started_at"]!.GetValue<DateTimeOffset>() - build["created_at"]!.GetValue<DateTimeOffset>();
            Assert.True(waited < poll, $"build {i} waited {waited} for a worker: it was not woken by the submit");
        }
    }

    [Fact]
    public async Task Builds_of_one_namespace_never_exceed_its_concurrency_limit()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:Workers=2", "--Wharf:Builds:MaxConcurrentPerNamespace=1");
        var first = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN sleep 2\n", "limited/one:1", Ct);
        var second = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN sleep 2\n", "limited/two:1", Ct);
        var other = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN sleep 2\n", "elsewhere/app:1", Ct);
        var a = await server.AssertSucceededAsync(first, Ct);
        var b = await server.AssertSucceededAsync(second, Ct);
        var c = await server.AssertSucceededAsync(other, Ct);
        var (early, late) = a["started_at"]!.GetValue<DateTimeOffset>() < b["started_at"]!.GetValue<DateTimeOffset>() ? (a, b) : (b, a);
        Assert.True(late["started_at"]!.GetValue<DateTimeOffset>() >= early["finished_at"]!.GetValue<DateTimeOffset>(), "two builds of 'limited' overlapped");
        // The other namespace was not held back behind them.
        Assert.True(c["started_at"]!.GetValue<DateTimeOffset>() < late["started_at"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task Following_the_logs_streams_lines_as_server_sent_events_until_the_end()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo line-one && sleep 1 && echo line-two\n", "follow/app:1", Ct);
        using var response = await server.Http.GetAsync($"api/v1/builds/{id}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var events = new List<(string Event, string Data)>();
        string? eventName = null;
        while (await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) eventName = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add((eventName ?? "message", line["data: ".Length..]));
            if (eventName == "end" && events.Count > 0 && events[^1].Event == "end") break;
        }
        Assert.Equal(("end", "succeeded"), events[^1]);
        var lines = events.Where(e => e.Event == "log").Select(e => e.Data).ToList();
        var one = lines.FindIndex(l => l.EndsWith("Z line-one", StringComparison.Ordinal));
        var two = lines.FindIndex(l => l.EndsWith("Z line-two", StringComparison.Ordinal));
        Assert.True(one >= 0 && two > one, string.Join('\n', lines));
        Assert.Contains(lines, l => l.Contains("Pushed ", StringComparison.Ordinal));
    }
}
