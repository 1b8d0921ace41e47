using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Wharf.Storage.S3;

/// <summary>The AWS SDK client for the configured server, and the translation of its failures into Wharf's storage errors.</summary>
internal static class S3Client
{
    public static AmazonS3Client Create(S3StorageOptions options)
    {
        var checksum = options.ChecksumWhenSupported ? RequestChecksumCalculation.WHEN_SUPPORTED : RequestChecksumCalculation.WHEN_REQUIRED;
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.PathStyle,
            RequestChecksumCalculation = checksum,
            ResponseChecksumValidation = options.ChecksumWhenSupported ? ResponseChecksumValidation.WHEN_SUPPORTED : ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromMinutes(5),
            MaxErrorRetry = 3,
        };
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        return string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public static bool IsNotFound(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.NotFound || e.ErrorCode is "NoSuchKey" or "NotFound" or "NoSuchUpload";

    public static bool IsPreconditionFailed(AmazonS3Exception e) =>
        e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict || e.ErrorCode is "PreconditionFailed" or "ConditionalRequestConflict";

    /// <summary>A failure of the server or of reaching it, as Wharf's own storage error (so that the API answers 503, not 500).</summary>
    public static Exception Translate(Exception e, string what) => e switch
    {
        AmazonS3Exception { ErrorCode: "QuotaExceeded" or "EntityTooLarge" } s3 => new Core.Storage.StorageFullException($"The S3 server refused {what}: {s3.ErrorCode}.", s3),
        AmazonServiceException service => new Core.Storage.StorageUnavailableException($"The S3 server failed {what}: {(service is AmazonS3Exception s3 ? s3.ErrorCode : service.Message)} ({(int)service.StatusCode}).", service),
        AmazonClientException client => new Core.Storage.StorageUnavailableException($"The S3 client failed {what}: {client.Message}", client),
        HttpRequestException http => new Core.Storage.StorageUnavailableException($"The S3 server could not be reached for {what}: {http.Message}", http),
        _ => e,
    };

    public static bool IsInfrastructure(Exception e) => e is AmazonServiceException or HttpRequestException or AmazonClientException;

    public static GetObjectMetadataRequest Head(string bucket, string key) => new() { BucketName = bucket, Key = key };
}
