using Wharf.Core.Accounts;
using Wharf.Core.Proxy;
using Wharf.Core.Registry;
using Wharf.Core.Storage;

namespace Wharf.Server.Proxy;

public static class ProxyServiceCollectionExtensions
{
    /// <summary>
    /// Reads and validates <c>Wharf:Proxy</c>; when a proxy namespace or a mirror is configured, registers the
    /// <see cref="PullThroughCache"/> (nothing otherwise: the registry's paths then never look at it). Proxy namespaces'
    /// repositories get their configured visibility (public by default). Returns the configuration problems.
    /// </summary>
    public static IReadOnlyList<string> AddWharfProxy(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        ProxyOptions options;
        try
        {
            options = configuration.GetSection("Wharf:Proxy").Get<ProxyOptions>() ?? new ProxyOptions();
        }
        catch (InvalidOperationException e)
        {
            return [$"Wharf:Proxy: {e.InnerException?.Message ?? e.Message}"];
        }
        var problems = options.Validate().ToList();
        if (problems.Count > 0 || !options.Enabled) return problems;
        services.AddSingleton(options);
        if (services.LastOrDefault(d => d.ServiceType == typeof(AuthOptions))?.ImplementationInstance is AuthOptions auth)
        {
            foreach (var (name, upstream) in options.Namespaces) auth.PullThroughNamespaces[name] = upstream.Visibility;
            auth.PullThroughMirror = options.Mirror?.Upstream is { Length: > 0 };
        }
        var spool = Path.GetFullPath(options.SpoolPath ?? Path.Combine(dataDir, "proxy-spool"));
        services.AddMetrics();
        services.AddSingleton<ProxyMetrics>();
        services.AddSingleton(sp => new PullThroughCache(options, spool,
            sp.GetRequiredService<RegistryService>(), sp.GetRequiredService<IRegistryStore>(), sp.GetRequiredService<IBlobStore>(),
            sp.GetRequiredService<IUploadStore>(), sp.GetRequiredService<ICachedRepositoryStore>(), sp.GetRequiredService<ProxyMetrics>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PullThroughCache>>()));
        return problems;
    }
}
