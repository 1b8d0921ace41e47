using Wharf.Data.PostgreSql;
using Wharf.Data.Sqlite;

namespace Wharf.Data.Tests;

/// <summary>Migrations on every provider: both providers carry the same numbers, nodes migrating at once apply each once.</summary>
public abstract class MigratorContractTests : StoreContractTests
{
    [Fact]
    public async Task A_migrated_database_has_nothing_pending()
    {
        Assert.Empty(await Database.Migrator.PendingAsync(Ct));
        Assert.Equal(0, await Database.Migrator.MigrateAsync(Ct));
    }

    [Fact]
    public async Task Nodes_migrating_at_once_apply_nothing_twice()
    {
        var nodes = Enumerable.Range(0, 4).Select(_ => Database.OpenAnotherNode()).ToList();
        var applied = await Task.WhenAll(nodes.Select(n => Task.Run(() => n.Migrator.MigrateAsync(Ct))));
        Assert.All(applied, a => Assert.Equal(0, a));
        Assert.Empty(await nodes[0].Migrator.PendingAsync(Ct));
    }

    [Fact]
    public void Every_provider_has_the_same_migration_numbers()
    {
        // Once PostgreSQL is on main, every schema change is made for both providers with the same number.
        Assert.Equal(SqliteMigrator.LoadMigrations().Select(m => m.Name), PostgreSqlMigrator.LoadMigrations().Select(m => m.Name));
    }
}

public sealed class SqliteMigratorContractTests : MigratorContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlMigratorContractTests : MigratorContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
