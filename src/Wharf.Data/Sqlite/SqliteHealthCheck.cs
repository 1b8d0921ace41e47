using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core;

namespace Wharf.Data.Sqlite;

/// <summary>
/// Readiness of the SQLite database: opens the file afresh (no pool, never creating it) and reads its schema and
/// migration table, so a deleted, replaced, unreadable or corrupt file shows even while pooled connections still
/// hold the old one open. The probe runs off the request thread and is abandoned when the check's time is up.
/// </summary>
public sealed class SqliteHealthCheck(SqliteOptions options) : IHealthCheck
{
    /// <summary>Tags of the registration: readiness, and the provider <c>/readyz</c> names.</summary>
    public static readonly string[] Tags = [HealthTags.Ready, HealthTags.Provider("sqlite")];

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString)
        {
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        };
        try
        {
            await Task.Run(() => Probe(builder.ToString()), cancellationToken).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (SqliteException e)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The database cannot be read: {e.Message}", null);
        }
    }

    private static void Probe(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA busy_timeout=1000; SELECT COUNT(*) FROM sqlite_master; SELECT COUNT(*) FROM schema_migrations;";
        using var reader = command.ExecuteReader();
        do
        {
            while (reader.Read()) { }
        } while (reader.NextResult());
    }
}
