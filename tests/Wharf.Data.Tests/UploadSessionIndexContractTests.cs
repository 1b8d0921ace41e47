using Wharf.Core.Storage;

namespace Wharf.Data.Tests;

/// <summary>The behaviour every <see cref="IUploadSessionIndex"/> provider must have: the counts behind the limits on open uploads.</summary>
public abstract class UploadSessionIndexContractTests : StoreContractTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Idle = TimeSpan.FromHours(1);

    private static UploadSessionLimits Limits(int perUser, int perAddress) => new(perUser, perAddress, Idle);

    [Fact]
    public async Task A_user_at_the_limit_is_refused_from_any_address_until_a_session_ends()
    {
        var index = Database.UploadSessions;
        var limits = Limits(perUser: 3, perAddress: 0);
        var sessions = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var id = Guid.NewGuid();
            Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(id, new UploadOpener("alice", $"127.0.0.{i + 1}"), limits, T0, Ct));
            sessions.Add(id);
        }

        Assert.Equal(UploadAdmission.UserAtLimit, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", "127.0.0.9"), limits, T0, Ct));
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("bob", "127.0.0.1"), limits, T0, Ct));
        Assert.Equal(new UploadSessionCounts(3, 2), await index.CountOpenAsync(new UploadOpener("alice", "127.0.0.1"), T0 - Idle, Ct));

        Assert.True(await index.RemoveAsync(sessions[1], Ct));
        Assert.False(await index.RemoveAsync(sessions[1], Ct));
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", "127.0.0.9"), limits, T0, Ct));
        Assert.Equal(UploadAdmission.UserAtLimit, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", "127.0.0.9"), limits, T0, Ct));
    }

    [Fact]
    public async Task An_address_at_the_limit_is_refused_for_everyone_on_it_anonymous_or_not()
    {
        var index = Database.UploadSessions;
        var limits = Limits(perUser: 10, perAddress: 2);
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener(null, "::1"), limits, T0, Ct));
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", "::1"), limits, T0, Ct));

        Assert.Equal(UploadAdmission.AddressAtLimit, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener(null, "::1"), limits, T0, Ct));
        Assert.Equal(UploadAdmission.AddressAtLimit, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("bob", "::1"), limits, T0, Ct));
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("bob", "127.0.0.2"), limits, T0, Ct));
        // Nothing refused was recorded: bob has only the one session that was admitted.
        Assert.Equal(new UploadSessionCounts(1, 2), await index.CountOpenAsync(new UploadOpener("bob", "::1"), T0 - Idle, Ct));
    }

    [Fact]
    public async Task No_limit_applies_when_it_is_zero_or_when_the_opener_has_no_such_key()
    {
        var index = Database.UploadSessions;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", "127.0.0.1"), Limits(0, 0), T0, Ct));
            Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener(null, null), Limits(1, 1), T0, Ct));
        }
        Assert.Equal(new UploadSessionCounts(5, 5), await index.CountOpenAsync(new UploadOpener("alice", "127.0.0.1"), T0 - Idle, Ct));
        Assert.Equal(new UploadSessionCounts(0, 0), await index.CountOpenAsync(new UploadOpener(null, null), T0 - Idle, Ct));
    }

    [Fact]
    public async Task Idle_sessions_stop_counting_a_touch_keeps_one_open_and_expiry_removes_only_idle_ones()
    {
        var index = Database.UploadSessions;
        var limits = Limits(perUser: 2, perAddress: 0);
        var busy = Guid.NewGuid();
        var idle = Guid.NewGuid();
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(busy, new UploadOpener("alice", null), limits, T0, Ct));
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(idle, new UploadOpener("alice", null), limits, T0, Ct));
        await index.TouchAsync(busy, T0 + TimeSpan.FromMinutes(50), Ct);
        await index.TouchAsync(Guid.NewGuid(), T0, Ct); // unknown: nothing happens

        var later = T0 + Idle + TimeSpan.FromMinutes(1);
        Assert.Equal(new UploadSessionCounts(1, 0), await index.CountOpenAsync(new UploadOpener("alice", null), later - Idle, Ct));
        // The idle one no longer holds a place, even before the sweep has removed it.
        Assert.Equal(UploadAdmission.Admitted, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", null), limits, later, Ct));
        Assert.Equal(UploadAdmission.UserAtLimit, await index.AdmitAsync(Guid.NewGuid(), new UploadOpener("alice", null), limits, later, Ct));

        Assert.Equal(1, await index.RemoveIdleAsync(later - Idle, Ct));
        Assert.False(await index.RemoveAsync(idle, Ct));
        Assert.True(await index.RemoveAsync(busy, Ct));
    }

    [Fact]
    public async Task Admissions_racing_on_two_nodes_never_exceed_the_limit()
    {
        var first = Database.UploadSessions;
        var second = Database.OpenAnotherNode().UploadSessions;
        var limits = Limits(perUser: 5, perAddress: 7);
        var attempts = Enumerable.Range(0, 24).Select(i => Task.Run(() =>
            (i % 2 == 0 ? first : second).AdmitAsync(Guid.NewGuid(), new UploadOpener(i % 3 == 0 ? "bob" : "alice", "127.0.0.1"), limits, T0, Ct)));
        var outcomes = await Task.WhenAll(attempts);

        Assert.Equal(7, outcomes.Count(o => o == UploadAdmission.Admitted));
        var alice = await first.CountOpenAsync(new UploadOpener("alice", "127.0.0.1"), T0 - Idle, Ct);
        var bob = await second.CountOpenAsync(new UploadOpener("bob", null), T0 - Idle, Ct);
        Assert.Equal(7, alice.ByAddress);
        Assert.True(alice.ByUser <= 5 && bob.ByUser <= 5, $"alice {alice.ByUser}, bob {bob.ByUser}");
        Assert.Equal(7, alice.ByUser + bob.ByUser);
    }
}

public sealed class SqliteUploadSessionIndexTests : UploadSessionIndexContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlUploadSessionIndexTests : UploadSessionIndexContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
