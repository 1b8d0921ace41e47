using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core.Registry;

namespace Wharf.Data.Sqlite;

public static class SqliteServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite metadata store for the database file at <paramref name="databasePath"/>
    /// (its folder is created): <see cref="SqliteConnectionFactory"/>, <see cref="IRegistryStore"/> and
    /// <see cref="IMetadataMigrator"/>, all singletons sharing one writer gate; and the readiness check <c>database</c>
    /// (<see cref="SqliteHealthCheck"/>, tagged <c>ready</c>).
    /// </summary>
    public static IServiceCollection AddSqliteMetadata(this IServiceCollection services, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(databasePath));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        var options = SqliteOptions.ForFile(databasePath);
        services.AddSingleton(options);
        services.AddSingleton(sp => new SqliteConnectionFactory(sp.GetRequiredService<SqliteOptions>()));
        services.AddSingleton<SqliteRegistryStore>(sp => new SqliteRegistryStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<SqliteRegistryStore>());
        services.AddSingleton<SqliteAccountStore>(sp => new SqliteAccountStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Accounts.IAccountStore>(sp => sp.GetRequiredService<SqliteAccountStore>());
        services.AddSingleton<Wharf.Core.Accounts.IAuditLog>(sp => sp.GetRequiredService<SqliteAccountStore>());
        services.AddSingleton<Wharf.Core.Builds.IBuildStore>(sp => new SqliteBuildStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Builds.IRegistryCredentialStore>(sp => new SqliteRegistryCredentialStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<SqliteMigrator>(sp => new SqliteMigrator(sp.GetRequiredService<SqliteConnectionFactory>()));
        services.AddSingleton<IMetadataMigrator>(sp => sp.GetRequiredService<SqliteMigrator>());
        services.AddHealthChecks().AddCheck<SqliteHealthCheck>("database", HealthStatus.Unhealthy, SqliteHealthCheck.Tags);
        return services;
    }
}
