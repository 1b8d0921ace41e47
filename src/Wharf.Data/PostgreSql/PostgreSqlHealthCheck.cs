using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Wharf.Core;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// Readiness of the PostgreSQL database (<c>database</c>, provider <c>postgresql</c>): a pooled connection reads the
/// migration table, so a stopped server, refused credentials, a dropped database or a missing schema all show. The
/// framework's timeout (<c>Wharf:Health:Timeout</c>) cancels the probe.
/// </summary>
public sealed class PostgreSqlHealthCheck(PostgreSqlConnections connections) : IHealthCheck
{
    /// <summary>Tags of the registration: readiness, and the provider <c>/readyz</c> names.</summary>
    public static readonly string[] Tags = [HealthTags.Ready, HealthTags.Provider("postgresql")];

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", connection);
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var reason = connections.DescribeFailure(e) ?? $"{connections.Describe()} cannot be read: {e.Message}";
            return new HealthCheckResult(context.Registration.FailureStatus, reason);
        }
    }
}
