using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Signals;

namespace Wharf.Data.Sqlite;

public static class SqliteServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite metadata store for the database file at <paramref name="databasePath"/> (its folder is
    /// created): <see cref="SqliteConnectionFactory"/>, every store (<see cref="IRegistryStore"/>,
    /// <see cref="IRepositoryStore"/>, <see cref="IAccountStore"/>, <see cref="IAuditLog"/>, <see cref="IBuildStore"/>,
    /// <see cref="IRegistryCredentialStore"/>, <see cref="Wharf.Core.Storage.IUploadSessionIndex"/>, <see cref="Wharf.Core.Storage.ISharedFileStore"/>),
    /// <see cref="IMetadataMigrator"/> and an in-process
    /// <see cref="ISignalBus"/> (one file, one node), all singletons sharing one writer gate; the webhook store and its outbox (a change and build journal);
    /// and the readiness check <c>database</c> (<see cref="SqliteHealthCheck"/>, tagged <c>ready</c>).
    /// </summary>
    public static IServiceCollection AddSqliteMetadata(this IServiceCollection services, string databasePath, int relevanceRankedMatches = 5_000)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(databasePath));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        RestrictToOwner(databasePath);
        var options = SqliteOptions.ForFile(databasePath);
        services.AddSingleton(options);
        services.AddSingleton(sp => new SqliteConnectionFactory(sp.GetRequiredService<SqliteOptions>(), sp.GetServices<ISqliteChangeJournal>()));
        services.AddSingleton<SqliteRegistryStore>(sp => new SqliteRegistryStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<SqliteRegistryStore>());
        services.AddSingleton<IRepositoryStore>(sp => new SqliteRepositoryStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>(), relevanceRankedMatches));
        services.AddSingleton<SqliteAccountStore>(sp => new SqliteAccountStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<IAccountStore>(sp => sp.GetRequiredService<SqliteAccountStore>());
        services.AddSingleton<IAuditLog>(sp => sp.GetRequiredService<SqliteAccountStore>());
        services.AddSingleton<IBuildStore>(sp => new SqliteBuildStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>(), sp.GetServices<ISqliteBuildJournal>()));
        services.AddSingleton<Wharf.Core.Storage.IUploadSessionIndex>(sp => new SqliteUploadSessionIndex(sp.GetRequiredService<SqliteConnectionFactory>()));
        services.AddSingleton<IRegistryCredentialStore>(sp => new SqliteRegistryCredentialStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Policies.IPolicyStore>(sp => new SqlitePolicyStore(sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Gc.IGcStore>(sp => new SqliteGcStore(sp.GetRequiredService<SqliteConnectionFactory>()));
        services.AddSingleton<Wharf.Core.Retention.IRetentionStore>(sp => new SqliteRetentionStore(sp.GetRequiredService<SqliteConnectionFactory>()));
        services.AddSingleton<Wharf.Core.Proxy.ICachedRepositoryStore>(sp => new SqliteCachedRepositoryStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<Wharf.Core.Storage.ISharedFileStore>(sp => new SqliteSharedFileStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddSingleton<SqliteMigrator>(sp => new SqliteMigrator(sp.GetRequiredService<SqliteConnectionFactory>()));
        services.AddSingleton<IMetadataMigrator>(sp => sp.GetRequiredService<SqliteMigrator>());
        services.AddSingleton<ISignalBus>(sp => SignalBusLogging.Logged(new InProcessSignalBus(), sp));
        var migrations = SqliteMigrator.LoadMigrations();
        services.AddSingleton(new Wharf.Core.ProviderDescription("database",
            $"SQLite {Path.GetFullPath(databasePath)} (schema {(migrations.Count == 0 ? "empty" : migrations[^1].Name)})"));
        services.AddSingleton(sp => new SqliteWebhookOutbox(sp.GetService<Wharf.Core.Webhooks.WebhookSource>() ?? Wharf.Core.Webhooks.WebhookSource.ThisProcess, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<ISqliteBuildJournal>(sp => sp.GetRequiredService<SqliteWebhookOutbox>());
        services.AddSingleton<ISqliteChangeJournal>(sp => sp.GetRequiredService<SqliteWebhookOutbox>());
        services.AddSingleton<Wharf.Core.Webhooks.IWebhookStore>(sp => new SqliteWebhookStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>()));
        services.AddHealthChecks().AddCheck<SqliteHealthCheck>("database", HealthStatus.Unhealthy, SqliteHealthCheck.Tags);
        return services;
    }

    /// <summary>
    /// The database file is the server's user's alone (0600): created so before SQLite opens it, narrowed if it exists.
    /// SQLite gives its -wal and -shm files the database file's mode.
    /// </summary>
    private static void RestrictToOwner(string databasePath)
    {
        if (OperatingSystem.IsWindows()) return;
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(databasePath))
        {
            using var _ = new FileStream(databasePath, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ownerOnly });
            return;
        }
        foreach (var file in (string[])[databasePath, databasePath + "-wal", databasePath + "-shm"])
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~ownerOnly) != 0) File.SetUnixFileMode(file, ownerOnly);
        }
    }
}
