using System.Globalization;
using System.Reflection;
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

    /// <summary>A migration script embedded in this assembly.</summary>
    public sealed record Migration(int Version, string Name, string Sql);

    /// <summary>Every embedded migration, in version order.</summary>
    public static IReadOnlyList<Migration> LoadMigrations()
    {
        var assembly = typeof(SqliteMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal)) continue;
            // MSBuild may prefix a leading digit with '_' when it builds the resource name.
            var name = resource[ResourcePrefix.Length..^".sql".Length].TrimStart('_');
            var digits = 0;
            while (digits < name.Length && char.IsAsciiDigit(name[digits])) digits++;
            if (digits == 0) throw new InvalidOperationException($"Migration resource '{resource}' does not start with a version number.");
            var version = int.Parse(name.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture);
            migrations.Add(new Migration(version, name, ReadResource(assembly, resource)));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two migrations have version {migrations[i].Version}: {migrations[i - 1].Name}, {migrations[i].Name}.");
            }
        }
        return migrations;
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

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Migration resource '{resource}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
