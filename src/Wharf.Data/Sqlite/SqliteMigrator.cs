using Dapper;
using Wharf.Core.Registry;

namespace Wharf.Data.Sqlite;

/// <summary>
/// Applies the embedded <c>Sqlite/Migrations/NNNN_name.sql</c> scripts in numeric order, each in its own
/// write transaction, recording them in <c>schema_migrations(version, name, applied_at)</c>.
/// Re-running applies nothing that is already recorded.
/// </summary>
public sealed class SqliteMigrator : IMetadataMigrator
{
    private const string ResourcePrefix = "Wharf.Data.Sqlite.Migrations.";

    private readonly SqliteConnectionFactory _connections;

    public SqliteMigrator(SqliteConnectionFactory connections)
    {
        ArgumentNullException.ThrowIfNull(connections);
        _connections = connections;
    }

    /// <summary>Every embedded SQLite migration, in version order.</summary>
    public static IReadOnlyList<MigrationScript> LoadMigrations() => MigrationScripts.Load(ResourcePrefix);

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var recorded = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", cancellationToken: cancellationToken));
        var applied = recorded == 0
            ? []
            : (await connection.QueryAsync<long>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet();
        return LoadMigrations().Where(m => !applied.Contains(m.Version)).Select(m => m.Name).ToList();
    }

    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await _connections.WriteAsync(
            (connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER NOT NULL PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at INTEGER NOT NULL
                )
                """, transaction: transaction, cancellationToken: cancellationToken)),
            cancellationToken);

        var applied = 0;
        foreach (var migration in LoadMigrations())
        {
            // Each migration in its own transaction; the check is inside it, so two processes
            // migrating the same file at once apply each script only once.
            var ran = await _connections.WriteAsync(async (connection, transaction) =>
            {
                var done = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = @Version",
                    new { migration.Version }, transaction, cancellationToken: cancellationToken));
                if (done > 0) return false;
                await using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = migration.Sql;
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @AppliedAt)",
                    new { migration.Version, migration.Name, AppliedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                    transaction, cancellationToken: cancellationToken));
                return true;
            }, cancellationToken);
            if (ran) applied++;
        }
        return applied;
    }
}
