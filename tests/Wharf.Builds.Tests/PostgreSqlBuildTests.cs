using System.Diagnostics;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// Builds on PostgreSQL across nodes sharing one database: node A serves the API without workers, node W runs the
/// builds, node B follows. Wake-ups, log lines and cancel requests travel by LISTEN/NOTIFY, so none of them waits for
/// a poll: the poll interval and lease renewal are set far longer than anything these tests allow.
/// </summary>
public sealed class PostgreSqlBuildTests : IDisposable
{
    private const string SlowPoll = "--Wharf:Builds:PollInterval=00:01:00";
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task A_build_submitted_on_one_node_starts_at_once_on_a_worker_of_another_and_is_followed_live_from_a_third()
    {
        await using var api = await BuildServer.StartOnAsync(WharfTestProviders.PostgreSql, Ct, "--workers", "0", SlowPoll);
        await using var worker = await api.StartAnotherNodeAsync("--workers", "1", SlowPoll);
        await using var follower = await api.StartAnotherNodeAsync("--workers", "0");

        var id = await api.SubmitOkAsync("FROM busybox\nRUN echo line-one && sleep 2 && echo line-two\n", "cluster/app:1", Ct);
        using var response = await follower.Http.GetAsync($"api/v1/builds/{id}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var lines = new List<string>();
        string? stateWhenLineOneArrived = null;
        string? end = null;
        string? eventName = null;
        while (end is null && await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) eventName = line["event: ".Length..];
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line["data: ".Length..];
            if (eventName == "end")
            {
                end = data;
                break;
            }
            lines.Add(data);
            if (stateWhenLineOneArrived is null && data.EndsWith("Z line-one", StringComparison.Ordinal))
            {
                stateWhenLineOneArrived = (await follower.GetBuildAsync(id, Ct))["state"]!.GetValue<string>();
            }
        }
        Assert.True(end == "succeeded", $"{end}: {(await api.GetBuildAsync(id, Ct)).ToJsonString()}\n{await api.LogsAsync(id, Ct)}");
        // The first line reached the follower on node B while the build still ran on node W: followed live.
        Assert.Equal("running", stateWhenLineOneArrived);
        Assert.True(lines.FindIndex(l => l.EndsWith("Z line-one", StringComparison.Ordinal)) < lines.FindIndex(l => l.EndsWith("Z line-two", StringComparison.Ordinal)), string.Join('\n', lines));

        var build = await api.GetBuildAsync(id, Ct);
        var waited = build["started_at"]!.GetValue<DateTimeOffset>() - build["created_at"]!.GetValue<DateTimeOffset>();
        // With a one-minute poll, only the signal from node A can start it this soon.
        Assert.True(waited < TimeSpan.FromSeconds(5), $"submit→start took {waited.TotalMilliseconds:F0} ms");
        Assert.Contains(lines, l => l.Contains("Pushed ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cancel_on_one_node_stops_the_build_running_on_another_at_once()
    {
        // Lease renewal (the fallback that notices a cancel request) comes only every 40 s here.
        await using var api = await BuildServer.StartOnAsync(WharfTestProviders.PostgreSql, Ct, "--workers", "0", SlowPoll);
        await using var worker = await api.StartAnotherNodeAsync("--workers", "1", SlowPoll, "--Wharf:Builds:LeaseDuration=00:02:00");
        var id = await api.SubmitOkAsync("FROM busybox\nRUN echo sleeping && sleep 120\n", "cluster/slow:1", Ct);
        await api.WaitForLogAsync(id, "sleeping", Ct);

        var clock = Stopwatch.StartNew();
        using (var cancel = await api.Http.PostAsync($"api/v1/builds/{id}/cancel", null, Ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, cancel.StatusCode);
        }
        var ended = await api.WaitForEndAsync(id, Ct, TimeSpan.FromSeconds(30));
        Assert.Equal("cancelled", ended["state"]!.GetValue<string>());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the cancel took {clock.Elapsed.TotalSeconds:F1} s to stop the build");
    }

    [Fact]
    public async Task A_build_on_PostgreSQL_is_listed_pushed_and_refuses_a_retry_once_succeeded()
    {
        await using var server = await BuildServer.StartOnAsync(WharfTestProviders.PostgreSql, Ct);
        var id = await server.SubmitOkAsync("FROM busybox\nRUN echo built > /built\n", "cluster/retry:1", Ct);
        var first = await server.AssertSucceededAsync(id, Ct);
        Assert.Equal(1, first["build_runs"]!.GetValue<int>());
        using (var retry = await server.Http.PostAsync($"api/v1/builds/{id}/retry", null, Ct))
        {
            // A succeeded build has nothing to retry: the conflict comes from the store's guarded requeue.
            Assert.Equal(System.Net.HttpStatusCode.Conflict, retry.StatusCode);
        }
        var listed = await server.Http.GetStringAsync("api/v1/builds?repository=cluster/retry", Ct);
        Assert.Contains(id, listed, StringComparison.Ordinal);
        Assert.Contains("built", await BuildServer.ReadFileFromImageAsync(server.Registry, "cluster/retry", "1", "built", Ct) ?? "");
    }
}
