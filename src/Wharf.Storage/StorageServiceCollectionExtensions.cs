using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Wharf.Core.Storage;
using Wharf.Storage.FileSystem;
using Wharf.Storage.S3;
using Wharf.Storage.Uploads;

namespace Wharf.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the blob and upload stores of the provider that <c>Wharf:Storage:Type</c> names, and the
    /// provider-neutral expiry of idle upload sessions (<c>Wharf:Registry:UploadIdleTimeout</c>). Returns every
    /// problem with the configuration instead (and registers nothing), for the caller to stop start-up with.
    /// </summary>
    public static IReadOnlyList<string> AddWharfStorage(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        var problems = options.Validate().ToList();
        var idle = configuration.GetValue<TimeSpan?>("Wharf:Registry:UploadIdleTimeout") ?? UploadExpiryOptions.Default.IdleTimeout;
        if (problems.Count > 0) return problems;

        services.TryAddSingleton(TimeProvider.System);
        if (options.Is(StorageOptions.FileSystemType))
        {
            services.AddFileSystemStorage(new FileSystemStorageOptions { Path = System.IO.Path.GetFullPath(options.Path ?? dataDir) });
        }
        else
        {
            services.AddS3Storage(options.S3);
        }
        services.AddSingleton(new UploadExpiryOptions(idle, options.UploadExpiryInterval));
        services.AddHostedService(sp => new UploadExpiryService(
            sp.GetRequiredService<IUploadStore>(),
            sp.GetService<IUploadSessionIndex>(),
            sp.GetRequiredService<UploadExpiryOptions>(),
            sp.GetRequiredService<ILogger<UploadExpiryService>>(),
            sp.GetRequiredService<TimeProvider>()));
        return problems;
    }
}
