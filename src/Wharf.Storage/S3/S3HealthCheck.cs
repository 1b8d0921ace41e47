using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core;

namespace Wharf.Storage.S3;

/// <summary>
/// Readiness of the S3 blob store (<c>storage</c>, provider <c>s3</c>): whether the bucket answers with these
/// credentials, by one listing of at most one key under the prefix. <c>/readyz</c> runs it within
/// <c>Wharf:Health:Timeout</c>; start-up runs it too (tag <see cref="HealthTags.Startup"/>) before listening, so a wrong
/// secret, a missing bucket or an unreachable server stops Wharf with one message that names the setting to fix.
/// </summary>
public sealed class S3HealthCheck(IAmazonS3 s3, S3StorageOptions options) : IHealthCheck
{
    /// <summary>Tags of the registration: readiness, start-up, and the provider <c>/readyz</c> names.</summary>
    public static readonly string[] Tags = [HealthTags.Ready, HealthTags.Startup, HealthTags.Provider("s3")];

    /// <summary>The longest one listing may take: start-up's bound (<c>/readyz</c> gives it less).</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        var problem = await ProblemAsync(cancellationToken);
        return problem is null
            ? HealthCheckResult.Healthy($"The bucket '{options.Bucket}' answers.")
            : new HealthCheckResult(context.Registration.FailureStatus, problem);
    }

    /// <summary>Null when the bucket answers; otherwise one sentence saying what is wrong and which setting to look at.</summary>
    internal async Task<string?> ProblemAsync(CancellationToken cancellationToken)
    {
        var where = options.ServiceUrl is { } url ? $"at {url}" : $"in AWS region {options.Region}";
        try
        {
            ResumableHash.EnsureAvailable();
        }
        catch (PlatformNotSupportedException e)
        {
            return e.Message;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = options.Bucket, Prefix = options.KeyPrefix, MaxKeys = 1 }, timeout.Token);
            return null;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket" || e.StatusCode == HttpStatusCode.NotFound)
        {
            return $"Wharf:Storage:S3:Bucket '{options.Bucket}' does not exist on the S3 server {where}; create it first.";
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "InvalidToken" or "ExpiredToken"
                                          || e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return $"The S3 server {where} refused Wharf:Storage:S3:AccessKey/SecretKey for bucket '{options.Bucket}' ({e.ErrorCode}): check the keys.";
        }
        catch (AmazonServiceException e)
        {
            return $"The S3 server {where} answered {(int)e.StatusCode} {(e as AmazonS3Exception)?.ErrorCode ?? e.Message} to a listing of bucket '{options.Bucket}'.";
        }
        catch (AmazonClientException e) when (e.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase))
        {
            return $"No S3 credentials for the server {where}: set Wharf:Storage:S3:AccessKey and SecretKey (or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables).";
        }
        catch (Exception e) when (e is HttpRequestException or AmazonClientException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = e is OperationCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : Innermost(e).Message;
            return $"Cannot reach the S3 server {where} (Wharf:Storage:S3:ServiceUrl): {reason}.";
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
