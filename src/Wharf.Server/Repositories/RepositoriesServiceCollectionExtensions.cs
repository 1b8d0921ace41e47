using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Core.Accounts;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;

namespace Wharf.Server.Repositories;

public static class RepositoriesServiceCollectionExtensions
{
    /// <summary>
    /// Repositories, counters and search: options from <c>Wharf:Repositories</c> (validated: throws
    /// <see cref="WharfConfigurationException"/>), the SQLite repository store, the pull counter (in memory) and the
    /// push details recorder, both subscribed to <see cref="RegistryEvents"/>, the background flush of pull counts and
    /// <see cref="RepositoryService"/>.
    /// Who may see what comes from <see cref="ICallerAccess"/> (everything until accounts register theirs).
    /// </summary>
    public static IServiceCollection AddWharfRepositories(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection($"Wharf:{RepositoryOptions.Section}").Get<RepositoryOptions>() ?? new RepositoryOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0) throw new WharfConfigurationException(problems);
        services.AddSingleton(options);
        services.AddSingleton<IReadmeCheck, ReadmeRenderer>();
        services.AddSingleton<PullCounter>();
        services.AddSingleton<IRegistryPullHandler>(sp => sp.GetRequiredService<PullCounter>());
        services.AddSingleton<IRegistryChangeHandler, PushDetailsRecorder>();
        services.AddSingleton<PullCountFlushService>();
        services.AddHostedService(sp => sp.GetRequiredService<PullCountFlushService>());
        services.TryAddSingleton<ICallerAccess, OpenCallerAccess>();
        services.AddSingleton(sp => new RepositoryService(
            sp.GetRequiredService<IRepositoryStore>(),
            sp.GetRequiredService<RegistryService>(),
            sp.GetRequiredService<ManifestCache>(),
            sp.GetRequiredService<ICallerAccess>(),
            options,
            sp.GetService<AuthOptions>()?.DefaultVisibility ?? RepositoryVisibility.Private,
            sp.GetRequiredService<RegistryEvents>(),
            sp.GetService<RepositoryPermissions>(),
            sp.GetRequiredService<IReadmeCheck>(),
            sp.GetService<AuthOptions>() is { } auth ? auth.DefaultVisibilityFor : null,
            sp.GetService<Wharf.Core.Proxy.ICachedRepositoryStore>()));
        services.AddSingleton(sp => new Wharf.Core.Policies.PolicyService(
            sp.GetRequiredService<Wharf.Core.Policies.IPolicyStore>(),
            sp.GetRequiredService<Wharf.Core.Retention.IRetentionStore>(),
            sp.GetRequiredService<IRepositoryStore>(),
            sp.GetRequiredService<ICallerAccess>(),
            sp.GetService<AuthOptions>()?.DefaultVisibility ?? RepositoryVisibility.Private));
        return services;
    }
}
