using Npgsql;
using Wharf.Core.Registry;
using Wharf.Data.PostgreSql;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Data.Tests.PostgreSql;

/// <summary>PostgreSQL migrations from an empty database, and the one clear message when the database can't be used.</summary>
public sealed class PostgreSqlMigratorTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Nodes_starting_at_once_on_an_empty_database_apply_every_migration_exactly_once()
    {
        await using var database = await PostgresService.CreateDatabaseAsync();
        var nodes = Enumerable.Range(0, 4).Select(_ => new PostgreSqlConnections(database.ConnectionString)).ToList();
        try
        {
            var expected = PostgreSqlMigrator.LoadMigrations();
            Assert.Equal(expected.Select(m => m.Name), await new PostgreSqlMigrator(nodes[0]).PendingAsync(Ct));
            var applied = await Task.WhenAll(nodes.Select(n => Task.Run(() => new PostgreSqlMigrator(n).MigrateAsync(Ct))));
            Assert.Equal(expected.Count, applied.Sum());
            Assert.Empty(await new PostgreSqlMigrator(nodes[1]).PendingAsync(Ct));
            await using var connection = await nodes[0].OpenAsync(Ct);
            await using var count = new NpgsqlCommand("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations", connection);
            await using var reader = await count.ExecuteReaderAsync(Ct);
            Assert.True(await reader.ReadAsync(Ct));
            Assert.Equal((expected.Count, expected.Count), ((int)reader.GetInt64(0), (int)reader.GetInt64(1)));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_unreachable_server_is_one_clear_message()
    {
        var port = FreePort.Next();
        var error = await FailAsync($"Host=127.0.0.1;Port={port};Username=wharf;Password=x;Database=wharf;Timeout=5");
        Assert.Contains($"Cannot reach PostgreSQL at 127.0.0.1:{port}", error.Message);
        Assert.Contains("Host/Port", error.Message);
    }

    [Fact]
    public async Task A_wrong_password_is_one_clear_message()
    {
        var admin = new NpgsqlConnectionStringBuilder(await PostgresService.AdminConnectionStringAsync()) { Password = "not-the-password" };
        var error = await FailAsync(admin.ConnectionString);
        Assert.Contains("refused the password of user 'postgres'", error.Message);
        Assert.DoesNotContain("not-the-password", error.Message);
    }

    [Fact]
    public async Task A_missing_database_is_one_clear_message()
    {
        var admin = new NpgsqlConnectionStringBuilder(await PostgresService.AdminConnectionStringAsync()) { Database = "no_such_database" };
        var error = await FailAsync(admin.ConnectionString);
        Assert.Contains("database \"no_such_database\" does not exist", error.Message);
        Assert.Contains("createdb", error.Message);
    }

    private static async Task<MetadataStoreUnavailableException> FailAsync(string connectionString)
    {
        await using var connections = new PostgreSqlConnections(connectionString);
        var migrator = new PostgreSqlMigrator(connections);
        await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() => migrator.PendingAsync(Ct));
        return await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() => migrator.MigrateAsync(Ct));
    }
}
