using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Data.Sqlite;

namespace Wharf.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>
    /// Registers the metadata store chosen by <c>Wharf:Database:Type</c> with everything it owns: the registry,
    /// repository, account, audit, build (queue) and registry-credential stores, the schema migrator and the signal bus
    /// between nodes. Returns the configuration problems (empty when it registered), for the caller to stop start-up with.
    /// </summary>
    public static IReadOnlyList<string> AddWharfData(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0) return problems;
        services.AddSingleton(options);
        services.AddSqliteMetadata(Path.GetFullPath(options.Path ?? Path.Combine(dataDir, "wharf.db")), options.RelevanceRankedMatches);
        return problems;
    }
}
