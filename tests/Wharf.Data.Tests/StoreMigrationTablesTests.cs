using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Wharf.Data.PostgreSql;
using Wharf.Data.Sqlite;
using Wharf.Data.StoreMigration;
using Wharf.Data.Tests.Sqlite;
using Wharf.Testing.Services;

namespace Wharf.Data.Tests;

/// <summary>
/// <c>wharf migrate-store</c>'s list of tables against what the migrations of both providers create (a migration that
/// adds a table must say whether it is copied), and its refusal to copy a schema it does not know.
/// </summary>
public sealed class StoreMigrationTablesTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Every_table_the_sqlite_migrations_create_is_copied_or_left_out_on_purpose()
    {
        await using var sqlite = await MigratedSqliteAsync();
        await using var connection = new SqliteConnection(sqlite.Connections.ConnectionString);
        var tables = (await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")).ToList();
        AssertListsMatch(tables);
    }

    [Fact]
    public async Task Every_table_the_postgresql_migrations_create_is_copied_or_left_out_on_purpose()
    {
        await using var database = await PostgresService.CreateDatabaseAsync(migrated: true, Ct);
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        var tables = (await connection.QueryAsync<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")).ToList();
        AssertListsMatch(tables);
    }

    [Fact]
    public async Task A_source_with_a_table_or_column_it_does_not_know_is_refused_before_anything_is_copied()
    {
        await using var sqlite = await MigratedSqliteAsync();
        await using (var connection = new SqliteConnection(sqlite.Connections.ConnectionString))
        {
            await connection.ExecuteAsync("CREATE TABLE future_things (id INTEGER PRIMARY KEY, what TEXT); ALTER TABLE users ADD COLUMN nickname TEXT;");
        }
        SqliteConnection.ClearAllPools();
        await using var database = await PostgresService.CreateDatabaseAsync(migrated: true, Ct);
        await using var target = new PostgreSqlConnections(database.ConnectionString);
        var tables = new SqliteToPostgreSqlTables(sqlite.DatabasePath, target, new StoreMigrationProgress(target));

        var problems = await tables.SchemaProblemsAsync(Ct);

        Assert.Contains(problems, p => p.Contains("table migrate-store does not know: future_things", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("users.nickname", StringComparison.Ordinal));
        Assert.Null(await tables.FirstTargetTableWithRowsAsync(Ct));
    }

    [Fact]
    public async Task A_current_source_against_a_migrated_target_has_no_schema_problem()
    {
        await using var sqlite = await MigratedSqliteAsync();
        await using var database = await PostgresService.CreateDatabaseAsync(migrated: true, Ct);
        await using var target = new PostgreSqlConnections(database.ConnectionString);
        var tables = new SqliteToPostgreSqlTables(sqlite.DatabasePath, target, new StoreMigrationProgress(target));
        Assert.Empty(await tables.PendingSourceMigrationsAsync(Ct));
        Assert.Empty(await tables.SchemaProblemsAsync(Ct));
    }

    private static void AssertListsMatch(IReadOnlyList<string> tables)
    {
        var unknown = tables.Where(t => !StoreMigrationTables.IsKnown(t)).ToList();
        Assert.True(unknown.Count == 0, "tables migrate-store does not know (add each to StoreMigrationTables): " + string.Join(", ", unknown));
        var gone = StoreMigrationTables.Copied.Where(t => !tables.Contains(t)).ToList();
        Assert.True(gone.Count == 0, "tables migrate-store copies that the migrations do not create: " + string.Join(", ", gone));
    }

    private static async Task<SqliteTestDatabase> MigratedSqliteAsync()
    {
        var sqlite = new SqliteTestDatabase();
        await new SqliteMigrator(sqlite.Connections).MigrateAsync(Ct);
        return sqlite;
    }
}
