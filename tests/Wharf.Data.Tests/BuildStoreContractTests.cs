using Microsoft.Extensions.Time.Testing;
using Wharf.Core.Builds;

namespace Wharf.Data.Tests;

/// <summary>
/// The behaviour every <see cref="IBuildStore"/> provider must have: builds, the queue with its leases, limits and
/// time-to-live, retries and cancels, and logs. The clock is fake, so leases lapse without waiting.
/// </summary>
public abstract class BuildStoreContractTests : StoreContractTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Ttl = TimeSpan.FromHours(1);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    protected override TimeProvider Time => _clock;

    private IBuildStore Store => Database.Builds;

    private async Task<BuildRecord> QueueAsync(string @namespace = "ns", string? owner = "alice")
    {
        var build = new BuildRecord
        {
            Id = Guid.NewGuid(),
            Owner = owner,
            Namespace = @namespace,
            Image = $"{@namespace}/app:1",
            Repository = $"{@namespace}/app",
            Tag = "1",
            SourceKind = BuildSourceKind.Context,
            DockerfilePath = "build/Dockerfile",
            BuildArgs = new Dictionary<string, string> { ["VERSION"] = "1.2", ["EMPTY"] = "" },
            Target = "final",
            Platform = "linux/amd64",
            CredentialId = Guid.NewGuid(),
            SecretIds = ["npmrc", "token"],
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds()),
        };
        await Store.CreateAsync(build, Ct);
        _clock.Advance(TimeSpan.FromMilliseconds(10)); // the queue is oldest first: keep the order unambiguous
        return build;
    }

    [Fact]
    public async Task A_created_build_reads_back_as_it_was_written()
    {
        var build = await QueueAsync();
        Assert.Equal(build, (await Store.GetAsync(build.Id, Ct))! with { BuildArgs = build.BuildArgs, SecretIds = build.SecretIds });
        var stored = (await Store.GetAsync(build.Id, Ct))!;
        Assert.Equal(build.BuildArgs, stored.BuildArgs);
        Assert.Equal(["npmrc", "token"], stored.SecretIds);
        Assert.Null(await Store.GetAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task Listings_filter_by_owner_repository_and_state_newest_first_with_a_cursor()
    {
        var a1 = await QueueAsync("ns", "alice");
        var b1 = await QueueAsync("other", "bob");
        var a2 = await QueueAsync("ns", "alice");
        var anonymous = await QueueAsync("ns", null);
        Assert.Equal([a2.Id, a1.Id], (await Store.ListAsync(new BuildFilter("alice"), Ct)).Select(b => b.Id));
        Assert.Equal([anonymous.Id], (await Store.ListAsync(new BuildFilter(null), Ct)).Select(b => b.Id));
        Assert.Equal([anonymous.Id, a2.Id, b1.Id, a1.Id], (await Store.ListAsync(new BuildFilter(null, AnyOwner: true), Ct)).Select(b => b.Id));
        Assert.Equal([b1.Id], (await Store.ListAsync(new BuildFilter(null, true, "other/app"), Ct)).Select(b => b.Id));
        var page = await Store.ListAsync(new BuildFilter(null, true, Limit: 2), Ct);
        var next = await Store.ListAsync(new BuildFilter(null, true, Limit: 2, After: new BuildCursor(page[^1].CreatedAt, page[^1].Id)), Ct);
        Assert.Equal([b1.Id, a1.Id], next.Select(b => b.Id));
        await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct);
        Assert.Equal([a1.Id], (await Store.ListAsync(new BuildFilter(null, true, State: BuildState.Running), Ct)).Select(b => b.Id));
    }

    [Fact]
    public async Task Leasing_takes_the_oldest_build_and_counts_an_attempt()
    {
        var first = await QueueAsync();
        var second = await QueueAsync("other");
        var leased = (await Store.LeaseNextAsync("worker-1", Lease, Ttl, 10, Ct))!;
        Assert.Equal((first.Id, BuildState.Running, "worker-1", 1), (leased.Id, leased.State, leased.LeaseOwner, leased.Attempts));
        Assert.Equal(_clock.GetUtcNow().Add(Lease).ToUnixTimeMilliseconds(), leased.LeaseExpiresAt!.Value.ToUnixTimeMilliseconds());
        Assert.NotNull(leased.StartedAt);
        Assert.Equal(second.Id, (await Store.LeaseNextAsync("worker-2", Lease, Ttl, 10, Ct))!.Id);
        Assert.Null(await Store.LeaseNextAsync("worker-3", Lease, Ttl, 10, Ct));
    }

    [Fact]
    public async Task A_lapsed_lease_goes_back_to_any_worker_and_the_old_holder_loses_it()
    {
        var build = await QueueAsync();
        await Store.LeaseNextAsync("worker-1", Lease, Ttl, 10, Ct);
        _clock.Advance(Lease / 2);
        Assert.NotNull(await Store.RenewLeaseAsync(build.Id, "worker-1", Lease, Ct));
        _clock.Advance(Lease / 2);
        Assert.Null(await Store.LeaseNextAsync("worker-2", Lease, Ttl, 10, Ct)); // renewed: still held
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        var taken = (await Store.LeaseNextAsync("worker-2", Lease, Ttl, 10, Ct))!;
        Assert.Equal((build.Id, "worker-2", 2), (taken.Id, taken.LeaseOwner, taken.Attempts));
        Assert.Null(await Store.RenewLeaseAsync(build.Id, "worker-1", Lease, Ct));
        Assert.False(await Store.UpdateAsync(taken with { BuildStatus = PhaseStatus.Completed }, "worker-1", Ct));
        Assert.True(await Store.UpdateAsync(taken with { BuildStatus = PhaseStatus.Completed }, "worker-2", Ct));
    }

    [Fact]
    public async Task A_lease_that_already_lapsed_is_not_renewed()
    {
        var build = await QueueAsync();
        await Store.LeaseNextAsync("worker-1", Lease, Ttl, 10, Ct);
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        Assert.Null(await Store.RenewLeaseAsync(build.Id, "worker-1", Lease, Ct));
    }

    [Fact]
    public async Task Namespaces_take_turns_the_one_running_fewest_then_the_one_served_longest_ago_first()
    {
        var busy1 = await QueueAsync("busy");
        var busy2 = await QueueAsync("busy");
        var busy3 = await QueueAsync("busy");
        var quiet = await QueueAsync("quiet");
        Assert.Equal(busy1.Id, (await Store.LeaseNextAsync("w1", Lease, Ttl, 10, Ct))!.Id);
        // busy runs one build, quiet none: quiet goes next although it queued last.
        Assert.Equal(quiet.Id, (await Store.LeaseNextAsync("w2", Lease, Ttl, 10, Ct))!.Id);
        Assert.Equal(busy2.Id, (await Store.LeaseNextAsync("w3", Lease, Ttl, 10, Ct))!.Id);

        // Both idle again: the namespace served longest ago goes first.
        var late = await QueueAsync("late");
        foreach (var (id, worker) in new[] { (busy1.Id, "w1"), (quiet.Id, "w2"), (busy2.Id, "w3") })
        {
            var running = (await Store.GetAsync(id, Ct))!;
            Assert.True(await Store.UpdateAsync(running with { State = BuildState.Succeeded, FinishedAt = _clock.GetUtcNow() }, worker, Ct));
        }
        Assert.Equal(late.Id, (await Store.LeaseNextAsync("w4", Lease, Ttl, 10, Ct))!.Id);
        Assert.Equal(busy3.Id, (await Store.LeaseNextAsync("w5", Lease, Ttl, 10, Ct))!.Id);
    }

    [Fact]
    public async Task The_per_namespace_limit_holds_builds_back_while_other_namespaces_go_ahead()
    {
        await QueueAsync("busy");
        await QueueAsync("busy");
        var other = await QueueAsync("quiet");
        Assert.Equal("busy", (await Store.LeaseNextAsync("w1", Lease, Ttl, 1, Ct))!.Namespace);
        Assert.Equal(other.Id, (await Store.LeaseNextAsync("w2", Lease, Ttl, 1, Ct))!.Id);
        Assert.Null(await Store.LeaseNextAsync("w3", Lease, Ttl, 1, Ct));
    }

    [Fact]
    public async Task Workers_leasing_at_once_on_separate_nodes_never_share_a_build_or_exceed_the_limit()
    {
        var builds = new List<BuildRecord>();
        for (var i = 0; i < 6; i++) builds.Add(await QueueAsync("ns" + (i % 2)));
        var nodes = Enumerable.Range(0, 4).Select(_ => Database.OpenAnotherNode(_clock)).ToList();
        var leases = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() =>
            nodes[i % nodes.Count].Builds.LeaseNextAsync($"worker-{i}", Lease, Ttl, 2, Ct))));
        var taken = leases.Where(l => l is not null).Select(l => l!).ToList();
        Assert.Equal(4, taken.Count);
        Assert.Equal(taken.Count, taken.Select(b => b.Id).Distinct().Count());
        Assert.All(taken.GroupBy(b => b.Namespace), g => Assert.Equal(2, g.Count()));
    }

    [Fact]
    public async Task Builds_queued_longer_than_the_time_to_live_time_out_instead_of_starting()
    {
        var old = await QueueAsync();
        _clock.Advance(Ttl + TimeSpan.FromMinutes(1));
        var fresh = await QueueAsync();
        Assert.Equal(fresh.Id, (await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct))!.Id);
        var timedOut = (await Store.GetAsync(old.Id, Ct))!;
        Assert.Equal((BuildState.TimedOut, BuildErrorKind.Infrastructure), (timedOut.State, timedOut.ErrorKind));
        Assert.Contains("queue time-to-live", timedOut.ErrorMessage);
        Assert.Equal("QueueTimeToLive", timedOut.ErrorLimit);
        Assert.NotNull(timedOut.FinishedAt);
    }

    [Fact]
    public async Task Progress_is_saved_and_a_final_state_clears_the_lease()
    {
        var build = await QueueAsync();
        var leased = (await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct))!;
        Assert.True(await Store.UpdateAsync(leased with { BuildStatus = PhaseStatus.InProgress, BuildRuns = 1, Engine = "buildah", LocalImage = "img" }, "w", Ct));
        var running = (await Store.GetAsync(build.Id, Ct))!;
        Assert.Equal((PhaseStatus.InProgress, 1, "buildah", "img", "w"), (running.BuildStatus, running.BuildRuns, running.Engine, running.LocalImage, running.LeaseOwner));
        var finishedAt = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        Assert.True(await Store.UpdateAsync(running with
        {
            State = BuildState.Failed, BuildStatus = PhaseStatus.Completed, PushStatus = PhaseStatus.Failed, PushAttempts = 3,
            ErrorKind = BuildErrorKind.Push, ErrorMessage = "push failed: 503\0", FinishedAt = finishedAt,
        }, "w", Ct));
        var failed = (await Store.GetAsync(build.Id, Ct))!;
        Assert.Equal((BuildState.Failed, PhaseStatus.Failed, 3, BuildErrorKind.Push, finishedAt), (failed.State, failed.PushStatus, failed.PushAttempts, failed.ErrorKind, failed.FinishedAt!.Value));
        Assert.StartsWith("push failed: 503", failed.ErrorMessage);
        Assert.Null(failed.LeaseOwner);
        Assert.Null(failed.LeaseExpiresAt);
        Assert.False(await Store.UpdateAsync(failed, "w", Ct));
    }

    [Fact]
    public async Task Retry_requeues_only_finished_unsucceeded_builds_and_release_keeps_the_place()
    {
        var build = await QueueAsync();
        Assert.False(await Store.RequeueAsync(build.Id, PhaseStatus.Pending, Ct));
        var leased = (await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct))!;
        await Store.ReleaseAsync(build.Id, "w", Ct);
        var released = (await Store.GetAsync(build.Id, Ct))!;
        Assert.Equal((BuildState.Queued, (string?)null), (released.State, released.LeaseOwner));
        leased = (await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct))!;
        Assert.Equal(2, leased.Attempts);
        await Store.UpdateAsync(leased with { State = BuildState.Failed, BuildStatus = PhaseStatus.Completed, PushStatus = PhaseStatus.Failed, ErrorKind = BuildErrorKind.Push, ErrorMessage = "x" }, "w", Ct);
        Assert.True(await Store.RequeueAsync(build.Id, PhaseStatus.Completed, Ct));
        var requeued = (await Store.GetAsync(build.Id, Ct))!;
        Assert.Equal((BuildState.Queued, PhaseStatus.Completed, PhaseStatus.Pending, BuildErrorKind.None, (string?)null), (requeued.State, requeued.BuildStatus, requeued.PushStatus, requeued.ErrorKind, requeued.ErrorMessage));
        Assert.Null(requeued.FinishedAt);
        Assert.False(await Store.RequeueAsync(build.Id, PhaseStatus.Pending, Ct));
    }

    [Fact]
    public async Task Cancel_ends_a_queued_build_and_flags_a_running_one_for_its_worker()
    {
        var running = await QueueAsync("a");
        var queued = await QueueAsync("b");
        Assert.Equal(running.Id, (await Store.LeaseNextAsync("w", Lease, Ttl, 10, Ct))!.Id);
        var flagged = (await Store.CancelAsync(running.Id, Ct))!;
        Assert.Equal((BuildState.Running, true), (flagged.State, flagged.CancelRequested));
        Assert.True((await Store.RenewLeaseAsync(running.Id, "w", Lease, Ct))!.CancelRequested);
        var cancelled = (await Store.CancelAsync(queued.Id, Ct))!;
        Assert.Equal((BuildState.Cancelled, false), (cancelled.State, cancelled.CancelRequested));
        Assert.Equal("Cancelled before it started.", cancelled.ErrorMessage);
        Assert.NotNull(cancelled.FinishedAt);
        Assert.Null(await Store.CancelAsync(Guid.NewGuid(), Ct));
        Assert.Null(await Store.LeaseNextAsync("w2", Lease, Ttl, 10, Ct));
    }

    [Fact]
    public async Task Log_lines_append_in_batches_and_read_in_order_after_a_sequence()
    {
        var build = await QueueAsync();
        var other = await QueueAsync();
        Assert.Equal(0, await Store.LastLogSequenceAsync(build.Id, Ct));
        var at = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        await Store.AppendLogAsync(build.Id, [new BuildLogLine(1, at, "STEP 1/2: FROM base"), new BuildLogLine(2, at, "binary \0 output")], Ct);
        await Store.AppendLogAsync(build.Id, [new BuildLogLine(3, at.AddSeconds(1), "STEP 2/2: RUN true")], Ct);
        await Store.AppendLogAsync(other.Id, [new BuildLogLine(1, at, "other")], Ct);
        await Store.AppendLogAsync(build.Id, [], Ct);
        Assert.Equal(3, await Store.LastLogSequenceAsync(build.Id, Ct));
        var all = await Store.ReadLogAsync(build.Id, 0, 100, Ct);
        Assert.Equal([1L, 2L, 3L], all.Select(l => l.Sequence));
        Assert.Equal(("STEP 1/2: FROM base", at), (all[0].Text, all[0].Time));
        Assert.StartsWith("binary ", all[1].Text);
        Assert.Equal(["STEP 2/2: RUN true"], (await Store.ReadLogAsync(build.Id, 2, 100, Ct)).Select(l => l.Text));
        Assert.Single(await Store.ReadLogAsync(build.Id, 0, 1, Ct));
        // Writing a sequence again replaces it (a worker that retries a batch).
        await Store.AppendLogAsync(build.Id, [new BuildLogLine(3, at, "STEP 2/2: RUN true (again)")], Ct);
        Assert.Equal("STEP 2/2: RUN true (again)", (await Store.ReadLogAsync(build.Id, 2, 100, Ct)).Single().Text);
    }
}

public sealed class SqliteBuildStoreTests : BuildStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlBuildStoreTests : BuildStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
