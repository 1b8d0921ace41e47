using Dapper;
using Npgsql;
using Wharf.Core.Registry;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// Applies the embedded <c>PostgreSql/Migrations/NNNN_name.sql</c> scripts in numeric order, each in its own transaction
/// (PostgreSQL's DDL is transactional: a script applies whole or not at all), recording them in
/// <c>schema_migrations(version, name, applied_at)</c>. The whole run holds a session advisory lock, so nodes started
/// at once against one database migrate one after the other and never apply a script twice.
/// </summary>
public sealed class PostgreSqlMigrator(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : IMetadataMigrator
{
    private const string ResourcePrefix = "Wharf.Data.PostgreSql.Migrations.";

    /// <summary>The advisory lock key of schema migrations ("WHARFMIG" as a big-endian 64-bit number).</summary>
    public const long MigrationLockKey = 0x5748_4152_464D_4947;

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Every embedded PostgreSQL migration, in version order.</summary>
    public static IReadOnlyList<MigrationScript> LoadMigrations() => MigrationScripts.Load(ResourcePrefix);

    public Task<int> MigrateAsync(CancellationToken cancellationToken) => connections.ReachAsync(async () =>
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, cancellationToken: cancellationToken));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer NOT NULL PRIMARY KEY,
                    name       text    NOT NULL,
                    applied_at bigint  NOT NULL
                )
                """, cancellationToken: cancellationToken));
            var applied = (await connection.QueryAsync<int>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet();
            var count = 0;
            foreach (var migration in LoadMigrations())
            {
                if (applied.Contains(migration.Version)) continue;
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction))
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @at)",
                    new { migration.Version, migration.Name, at = _time.GetUtcNow().ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken));
                await transaction.CommitAsync(cancellationToken);
                count++;
            }
            return count;
        }
        finally
        {
            // Also released when the session ends; unlocking keeps the pooled connection clean.
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey }, cancellationToken: CancellationToken.None));
        }
    });

    public Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken) => connections.ReachAsync<IReadOnlyList<string>>(async () =>
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var recorded = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT to_regclass('schema_migrations') IS NOT NULL", cancellationToken: cancellationToken));
        var applied = recorded
            ? (await connection.QueryAsync<int>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet()
            : [];
        return LoadMigrations().Where(m => !applied.Contains(m.Version)).Select(m => m.Name).ToList();
    });
}
