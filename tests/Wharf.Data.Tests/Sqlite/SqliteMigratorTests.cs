using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Registry;
using Wharf.Data.Sqlite;

namespace Wharf.Data.Tests.Sqlite;

public sealed class SqliteMigratorTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly SqliteTestDatabase _database = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public void Embedded_migrations_are_numbered_from_one_in_increasing_order()
    {
        // Gaps are allowed: numbers are reserved per feature (0002 accounts, 0003 builds, 0004 repositories) and
        // may land in any order; the migrator applies every one not yet recorded.
        var migrations = SqliteMigrator.LoadMigrations();
        Assert.NotEmpty(migrations);
        Assert.Equal(1, migrations[0].Version);
        Assert.All(migrations.Zip(migrations.Skip(1)), pair => Assert.True(pair.First.Version < pair.Second.Version));
        Assert.Equal("0001_registry", migrations[0].Name);
    }

    [Fact]
    public async Task Migrate_applies_every_migration_once_and_records_it()
    {
        var migrator = new SqliteMigrator(_database.Connections);
        var expected = SqliteMigrator.LoadMigrations();
        var before = DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeMilliseconds();

        Assert.Equal(expected.Count, await migrator.MigrateAsync(Ct));
        Assert.Equal(0, await migrator.MigrateAsync(Ct));
        Assert.Equal(0, await new SqliteMigrator(_database.Connections).MigrateAsync(Ct));

        await using var connection = await _database.Connections.OpenAsync(Ct);
        var rows = (await connection.QueryAsync<(long Version, string Name, long AppliedAt)>(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")).AsList();
        Assert.Equal(expected.Select(m => (long)m.Version), rows.Select(r => r.Version));
        Assert.Equal(expected.Select(m => m.Name), rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.InRange(r.AppliedAt, before, DateTimeOffset.UtcNow.AddSeconds(5).ToUnixTimeMilliseconds()));

        var tables = (await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).AsList();
        foreach (var table in new[] { "repositories", "blobs", "repository_blobs", "manifests", "manifest_references", "tags", "schema_migrations" })
        {
            Assert.Contains(table, tables);
        }
    }

    [Fact]
    public async Task Concurrent_migrations_apply_each_script_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new SqliteMigrator(_database.Connections).MigrateAsync(Ct))));
        Assert.Equal(SqliteMigrator.LoadMigrations().Count, results.Sum());
    }

    [Fact]
    public async Task Connections_use_wal_and_foreign_keys()
    {
        await using var connection = await _database.Connections.OpenAsync(Ct);
        Assert.Equal("wal", await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("PRAGMA foreign_keys"));
        Assert.Equal(10000L, await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout"));
        Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("PRAGMA synchronous")); // NORMAL
    }

    [Fact]
    public async Task AddSqliteMetadata_registers_a_working_store_and_creates_the_folder()
    {
        var path = Path.Combine(_database.Folder, "di", "nested", "wharf.db");
        var services = new ServiceCollection().AddSqliteMetadata(path);
        await using var provider = services.BuildServiceProvider();
        Assert.True(Directory.Exists(Path.GetDirectoryName(path)));

        var migrator = provider.GetRequiredService<IMetadataMigrator>();
        Assert.Same(migrator, provider.GetRequiredService<IMetadataMigrator>());
        Assert.Equal(SqliteMigrator.LoadMigrations().Count, await migrator.MigrateAsync(Ct));
        var store = provider.GetRequiredService<IRegistryStore>();
        await store.EnsureRepositoryAsync("library/alpine", Ct);
        Assert.True(await store.RepositoryExistsAsync("library/alpine", Ct));
        Assert.True(File.Exists(path));

        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(provider.GetRequiredService<SqliteConnectionFactory>().ConnectionString);
        Microsoft.Data.Sqlite.SqliteConnection.ClearPool(connection);
    }
}
