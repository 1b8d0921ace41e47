using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Repositories;

namespace Wharf.Data.Sqlite;

public static class SqliteRepositoriesServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IRepositoryStore"/> on the SQLite metadata database (after <c>AddSqliteMetadata</c>).</summary>
    public static IServiceCollection AddSqliteRepositories(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton<IRepositoryStore>(sp => new SqliteRepositoryStore(
            sp.GetRequiredService<SqliteConnectionFactory>(), sp.GetService<TimeProvider>(),
            sp.GetService<RepositoryOptions>()?.RelevanceRankedMatches ?? new RepositoryOptions().RelevanceRankedMatches));
        return services;
    }
}
