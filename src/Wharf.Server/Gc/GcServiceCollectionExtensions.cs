using Wharf.Core.Events;
using Wharf.Core.Gc;
using Wharf.Core.Registry;
using Wharf.Core.Storage;
using Wharf.Core.Telemetry;

namespace Wharf.Server.Gc;

public static class GcServiceCollectionExtensions
{
    /// <summary>
    /// Registers the collector (<see cref="GarbageCollector"/>) with <c>Wharf:Gc</c>'s options, for every process that may
    /// collect: <c>serve</c>, <c>wharf gc</c>, the API. Throws <see cref="WharfConfigurationException"/> on an invalid value.
    /// </summary>
    public static IServiceCollection AddWharfGc(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection($"Wharf:{GcOptions.Section}").Get<GcOptions>() ?? new GcOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0) throw new WharfConfigurationException(problems);
        services.AddSingleton(options);
        services.AddSingleton(sp => new GarbageCollector(
            sp.GetRequiredService<IGcStore>(),
            sp.GetRequiredService<IBlobStore>(),
            sp.GetRequiredService<IUploadStore>(),
            sp.GetRequiredService<RegistryEvents>(),
            sp.GetRequiredService<ManifestCache>(),
            options,
            sp.GetRequiredService<RegistryOptions>(),
            sp.GetService<WharfMetrics>(),
            sp.GetService<Wharf.Core.Retention.IRetentionStore>()));
        return services;
    }

    /// <summary>The scheduled collection of <c>wharf serve</c> (every <c>Wharf:Gc:Interval</c> when <c>Wharf:Gc:Enabled</c>).</summary>
    public static IServiceCollection AddWharfGcSchedule(this IServiceCollection services)
    {
        services.AddHostedService<GcScheduleService>();
        return services;
    }
}
