using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core.Storage;

namespace Wharf.Storage.FileSystem;

public static class FileSystemStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="FileSystemBlobStore"/> (singleton) as <see cref="IBlobStore"/> and <see cref="IUploadStore"/>,
    /// with its options, and the readiness check <c>storage</c> (<see cref="FileSystemHealthCheck"/>, tagged <c>ready</c>).
    /// Uses a registered <see cref="TimeProvider"/> when there is one. Called by
    /// <see cref="StorageServiceCollectionExtensions.AddWharfStorage"/> for <c>Type=FileSystem</c>.
    /// </summary>
    public static IServiceCollection AddFileSystemStorage(this IServiceCollection services, FileSystemStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(new Wharf.Core.ProviderDescription("blobs", $"file system under {Path.GetFullPath(options.Path)}"));
        services.AddSingleton(sp => new FileSystemBlobStore(options, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBlobStore>(sp => sp.GetRequiredService<FileSystemBlobStore>());
        services.AddSingleton<IUploadStore>(sp => sp.GetRequiredService<FileSystemBlobStore>());
        services.AddHealthChecks().AddCheck<FileSystemHealthCheck>("storage", HealthStatus.Unhealthy, FileSystemHealthCheck.Tags);
        return services;
    }
}
