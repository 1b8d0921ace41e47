using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Buildah;
using Wharf.Builds.Credentials;
using Wharf.Builds.DockerEngine;
using Wharf.Builds.Sandbox;
using Wharf.Builds.Sources;
using Wharf.Builds.Worker;
using Wharf.Core.Access;
using Wharf.Core.Builds;

namespace Wharf.Builds;

public static class BuildsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the build service from <c>Wharf:Builds</c>: options (validated: invalid values are returned for the
    /// caller to stop start-up with), sources in the shared file store of the metadata provider, the engine chosen by <c>Engine</c>, the worker,
    /// and the protector of stored registry secrets and build secrets (over the host's Data Protection).
    /// The stores (<see cref="IBuildStore"/>, <see cref="IRegistryCredentialStore"/>) come from the metadata provider.
    /// </summary>
    public static IReadOnlyList<string> AddWharfBuilds(this IServiceCollection services, IConfiguration configuration, string dataDir, int? workersOverride = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection("Wharf:" + BuildOptions.Section).Get<BuildOptions>() ?? new BuildOptions();
        // The default follows the machine, with the configured per-build limits.
        if (string.IsNullOrEmpty(configuration["Wharf:Builds:Workers"])) options.Workers = BuildOptions.DefaultWorkers(options.CpuLimit, options.MemoryLimitMiB);
        if (workersOverride is { } workers) options.Workers = workers;
        var problems = options.Validate().ToList();
        if (problems.Count > 0) return problems;

        var root = Path.GetFullPath(options.Path ?? Path.Combine(dataDir, "builds"));
        OwnerOnly.CreateDirectory(root);
        services.AddSingleton(options);
        services.AddSingleton(new BuildPaths(root, options.TempPath));
        services.AddSingleton<BuildSandboxes>();
        services.AddSingleton<IBuildReview, BuildReview>();
        services.TryAddSingleton<IAccountAccess, OpenAccountAccess>();
        services.AddSingleton<IBuildSourceStore, SharedBuildSourceStore>();
        services.AddSingleton<BuildQueueSignal>();
        services.AddSingleton<IBuildQueueSignal>(sp => sp.GetRequiredService<BuildQueueSignal>());
        services.AddSingleton<BuildCancellationRegistry>();
        services.AddSingleton<IBuildCancellation>(sp => sp.GetRequiredService<BuildCancellationRegistry>());
        services.TryAddSingleton<IInternalCredentials, NoInternalCredentials>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<BuildService>();
        services.AddSingleton<DockerHubSettings>();
        services.AddSingleton<RegistryTargets>();
        // Data Protection itself (key ring, master key) is the host's: AddWharfSecrets.
        services.AddSingleton<ISecretProtector, DataProtectionSecretProtector>();
        if (string.Equals(options.Engine, "Docker", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton(_ => new DockerEngineClient(options.DockerHost));
            services.AddSingleton<IBuildEngine, DockerBuildEngine>();
        }
        else
        {
            services.AddSingleton<IBuildEngine>(sp => new BuildahEngine(sp.GetRequiredService<BuildPaths>(), options, sp.GetRequiredService<BuildSandboxes>(), sp.GetRequiredService<ILogger<BuildahEngine>>()));
        }
        services.AddSingleton<BuildExecutor>();
        services.AddSingleton<BuildWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<BuildWorker>());
        return [];
    }
}
