using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Registry;

namespace Wharf.Data.Sqlite;

public static class SqliteServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite metadata store for the database file at <paramref name="databasePath"/>
    /// (its folder is created): <see cref="SqliteConnectionFactory"/>, <see cref="IRegistryStore"/> and
    /// <see cref="IMetadataMigrator"/>, all singletons sharing one writer gate.
    /// </summary>
    public static IServiceCollection AddSqliteMetadata(this IServiceCollection services, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(databasePath));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        RestrictToOwner(databasePath);
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
