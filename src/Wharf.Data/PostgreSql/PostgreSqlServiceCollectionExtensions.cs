using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Signals;

namespace Wharf.Data.PostgreSql;

public static class PostgreSqlServiceCollectionExtensions
{
    /// <summary>
    /// Registers the PostgreSQL metadata store for <paramref name="connectionString"/>: one pooled
    /// <see cref="PostgreSqlConnections"/>, every store (<see cref="IRegistryStore"/>, <see cref="IRepositoryStore"/>,
    /// <see cref="IAccountStore"/>, <see cref="IAuditLog"/>, <see cref="IBuildStore"/>, <see cref="IRegistryCredentialStore"/>, <see cref="Wharf.Core.Storage.IUploadSessionIndex"/>,
    /// <see cref="Wharf.Core.Storage.ISharedFileStore"/>,
    /// the webhook store and its outbox, written in the changes' transactions), the readiness check <c>database</c>,
    /// <see cref="IMetadataMigrator"/> and the LISTEN/NOTIFY <see cref="ISignalBus"/> (a hosted service). Returns the
    /// problems with the connection string (none when it registered).
    /// </summary>
    public static IReadOnlyList<string> AddPostgreSqlMetadata(this IServiceCollection services, string connectionString, int relevanceRankedMatches = 5_000)
    {
        ArgumentNullException.ThrowIfNull(services);
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            return [$"Wharf:Database:ConnectionString is not a valid Npgsql connection string: {e.Message}"];
        }
        services.AddSingleton(sp => new PostgreSqlConnections(connectionString, sp.GetServices<IPostgreSqlChangeJournal>()));
        services.AddSingleton<IRegistryStore>(sp => new PostgreSqlRegistryStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IRepositoryStore>(sp => new PostgreSqlRepositoryStore(
            sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>(), relevanceRankedMatches));
        services.AddSingleton<PostgreSqlAccountStore>(sp => new PostgreSqlAccountStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IAccountStore>(sp => sp.GetRequiredService<PostgreSqlAccountStore>());
        services.AddSingleton<IAuditLog>(sp => sp.GetRequiredService<PostgreSqlAccountStore>());
        services.AddSingleton<IBuildStore>(sp => new PostgreSqlBuildStore(
            sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>(), sp.GetServices<IPostgreSqlBuildJournal>()));
        services.AddSingleton<Wharf.Core.Storage.IUploadSessionIndex>(sp => new PostgreSqlUploadSessionIndex(sp.GetRequiredService<PostgreSqlConnections>()));
        services.AddSingleton<IRegistryCredentialStore>(sp => new PostgreSqlRegistryCredentialStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Policies.IPolicyStore>(sp => new PostgreSqlPolicyStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Gc.IGcStore>(sp => new PostgreSqlGcStore(sp.GetRequiredService<PostgreSqlConnections>()));
        services.AddSingleton<Wharf.Core.Retention.IRetentionStore>(sp => new PostgreSqlRetentionStore(sp.GetRequiredService<PostgreSqlConnections>()));
        services.AddSingleton<Wharf.Core.Proxy.ICachedRepositoryStore>(sp => new PostgreSqlCachedRepositoryStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Storage.ISharedFileStore>(sp => new PostgreSqlSharedFileStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IMetadataMigrator>(sp => new PostgreSqlMigrator(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddSingleton(sp => new PostgreSqlSignalBus(
            sp.GetRequiredService<PostgreSqlConnections>(),
            SignalBusLogging.Logged(new InProcessSignalBus(), sp),
            sp.GetRequiredService<ILogger<PostgreSqlSignalBus>>()));
        services.AddSingleton<ISignalBus>(sp => sp.GetRequiredService<PostgreSqlSignalBus>());
        services.AddHostedService(sp => sp.GetRequiredService<PostgreSqlSignalBus>());
        services.AddSingleton(sp => new PostgreSqlWebhookOutbox(sp.GetService<Wharf.Core.Webhooks.WebhookSource>() ?? Wharf.Core.Webhooks.WebhookSource.ThisProcess, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<IPostgreSqlBuildJournal>(sp => sp.GetRequiredService<PostgreSqlWebhookOutbox>());
        services.AddSingleton<IPostgreSqlChangeJournal>(sp => sp.GetRequiredService<PostgreSqlWebhookOutbox>());
        services.AddSingleton<Wharf.Core.Webhooks.IWebhookStore>(sp => new PostgreSqlWebhookStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
        services.AddHealthChecks().AddCheck<PostgreSqlHealthCheck>("database", HealthStatus.Unhealthy, PostgreSqlHealthCheck.Tags);
        var migrations = PostgreSqlMigrator.LoadMigrations();
        services.AddSingleton(sp => new Wharf.Core.ProviderDescription("database",
            $"{sp.GetRequiredService<PostgreSqlConnections>().Describe()} (schema {(migrations.Count == 0 ? "empty" : migrations[^1].Name)})"));
        return [];
    }
}
