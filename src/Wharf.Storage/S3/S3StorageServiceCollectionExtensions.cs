using Amazon.S3;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Wharf.Core;
using Wharf.Core.Storage;

namespace Wharf.Storage.S3;

public static class S3StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the S3 blob store and upload store over one client, and the readiness check <c>storage</c> (<see cref="S3HealthCheck"/>,
    /// also run at start-up) that the bucket answers with these credentials. Called by <see cref="StorageServiceCollectionExtensions.AddWharfStorage"/> for <c>Type=S3</c>.
    /// </summary>
    public static IServiceCollection AddS3Storage(this IServiceCollection services, S3StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton<IAmazonS3>(_ => S3Client.Create(options));
        services.AddSingleton(sp => new S3BlobStore(sp.GetRequiredService<IAmazonS3>(), options, new S3Keys(options.KeyPrefix)));
        services.AddSingleton(sp => new S3UploadStore(
            sp.GetRequiredService<IAmazonS3>(), options, sp.GetRequiredService<S3BlobStore>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger<S3UploadStore>()));
        services.AddSingleton<IBlobStore>(sp => sp.GetRequiredService<S3BlobStore>());
        services.AddSingleton<IUploadStore>(sp => sp.GetRequiredService<S3UploadStore>());
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "storage", sp => new S3HealthCheck(sp.GetRequiredService<IAmazonS3>(), options), HealthStatus.Unhealthy, S3HealthCheck.Tags));
        return services;
    }

    /// <summary>A store pair over its own client, for tools and tests that have no service provider.</summary>
    public static (S3BlobStore Blobs, S3UploadStore Uploads) CreateStores(S3StorageOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        var s3 = S3Client.Create(options);
        var blobs = new S3BlobStore(s3, options, new S3Keys(options.KeyPrefix));
        return (blobs, new S3UploadStore(s3, options, blobs, time ?? TimeProvider.System, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
    }
}
