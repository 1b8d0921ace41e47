using Wharf.Core.Accounts;
using Wharf.Data.Sqlite;

namespace Wharf.Data.Tests.Sqlite;

/// <summary>A repository's visibility, as the accounts module changes it: a change is a change of the repository.</summary>
public sealed class SqliteRepositoryVisibilityTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Changing_visibility_moves_updated_at_and_setting_the_same_visibility_does_not()
    {
        await using var database = new SqliteTestDatabase();
        await new SqliteMigrator(database.Connections).MigrateAsync(CancellationToken.None);
        var clock = new ManualClock(Start);
        var repositories = new SqliteRepositoryStore(database.Connections, clock);
        var accounts = new SqliteAccountStore(database.Connections, clock);
        await repositories.CreateAsync("alice/app", RepositoryVisibility.Private, "an app", null, CancellationToken.None);

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.True(await accounts.SetVisibilityAsync("alice/app", RepositoryVisibility.Public, CancellationToken.None));
        var changed = await repositories.GetAsync("alice/app", RepositoryVisibility.Private, CancellationToken.None);
        Assert.Equal(RepositoryVisibility.Public, changed!.Visibility);
        Assert.Equal(Start.AddMinutes(5), changed.UpdatedAt);
        Assert.Equal(Start, changed.CreatedAt);

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.True(await accounts.SetVisibilityAsync("alice/app", RepositoryVisibility.Public, CancellationToken.None));
        Assert.Equal(Start.AddMinutes(5), (await repositories.GetAsync("alice/app", RepositoryVisibility.Private, CancellationToken.None))!.UpdatedAt);
        Assert.False(await accounts.SetVisibilityAsync("alice/none", RepositoryVisibility.Public, CancellationToken.None));
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
