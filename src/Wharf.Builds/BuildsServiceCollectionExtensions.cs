using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Buildah;
using Wharf.Builds.Credentials;
using Wharf.Builds.DockerEngine;
using Wharf.Builds.Sources;
using Wharf.Builds.Worker;
using Wharf.Core.Access;
using Wharf.Core.Builds;
using Wharf.Core.Telemetry;

namespace Wharf.Builds;

public static class BuildsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the build service from <c>Wharf:Builds</c>: options (validated: invalid values are returned for the
    /// caller to stop start-up with), sources under the builds folder, the engine chosen by <c>Engine</c>, the worker,
    /// and Data Protection for stored registry secrets (keys in <c>&lt;data&gt;/keys/dataprotection</c>).
    /// The stores (<see cref="IBuildStore"/>, <see cref="IRegistryCredentialStore"/>) come from the metadata provider.
    /// </summary>
    public static IReadOnlyList<string> AddWharfBuilds(this IServiceCollection services, IConfiguration configuration, string dataDir, int? workersOverride = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection("Wharf:" + BuildOptions.Section).Get<BuildOptions>() ?? new BuildOptions();
        if (workersOverride is { } workers) options.Workers = workers;
        var problems = options.Validate().ToList();
        if (problems.Count > 0) return problems;

        var root = Path.GetFullPath(options.Path ?? Path.Combine(dataDir, "builds"));
        Directory.CreateDirectory(root);
        services.AddSingleton(options);
        services.AddSingleton(new BuildPaths(root));
        services.AddSingleton<IBuildSourceStore, FileSystemBuildSourceStore>();
        services.AddSingleton<BuildQueueSignal>();
        services.AddSingleton<IBuildQueueSignal>(sp => sp.GetRequiredService<BuildQueueSignal>());
        services.AddSingleton<BuildCancellationRegistry>();
        services.AddSingleton<IBuildCancellation>(sp => sp.GetRequiredService<BuildCancellationRegistry>());
        services.TryAddSingleton<IInternalCredentials, NoInternalCredentials>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<WharfMetrics>();
        services.AddSingleton<BuildService>();
        services.AddSingleton<DockerHubSettings>();
        services.AddSingleton<RegistryTargets>();
        services.AddDataProtection()
            .SetApplicationName("wharf")
            .PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDir, "keys", "dataprotection")));
        services.AddSingleton<ISecretProtector, DataProtectionSecretProtector>();
        if (string.Equals(options.Engine, "Docker", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton(_ => new DockerEngineClient(options.DockerHost));
            services.AddSingleton<IBuildEngine, DockerBuildEngine>();
        }
        else
        {
            services.AddSingleton<IBuildEngine>(sp => new BuildahEngine(sp.GetRequiredService<BuildPaths>(), options, sp.GetRequiredService<ILogger<BuildahEngine>>()));
        }
        services.AddSingleton<BuildExecutor>();
        services.AddSingleton<BuildWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<BuildWorker>());
        return [];
    }
}
