using System.Text.RegularExpressions;

namespace Wharf.Storage.S3;

/// <summary>
/// Section <c>Wharf:Storage:S3</c> (with <c>Wharf:Storage:Type=S3</c>): blobs and upload sessions in a bucket of any
/// S3-compatible server. Keys under <see cref="Prefix"/>: <c>blobs/&lt;alg&gt;/&lt;first two hex&gt;/&lt;hex&gt;</c>
/// as on the file system, and <c>uploads/&lt;uuid&gt;/…</c> for sessions.
/// </summary>
public sealed partial class S3StorageOptions
{
    public const string Section = "Wharf:Storage:S3";

    /// <summary>S3's minimum size of every part of a multipart upload but the last.</summary>
    public const int MinimumPartSize = 5 * 1024 * 1024;

    /// <summary>The server's URL, e.g. <c>http://127.0.0.1:7480</c>. Default: none, which means AWS itself in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>The bucket. Required; it must exist (Wharf does not create it).</summary>
    public string? Bucket { get; set; }

    /// <summary>The region requests are signed for. Default <c>us-east-1</c>.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Access key. Default: none, which takes credentials from the environment as the AWS SDK does (variables, instance profile).</summary>
    public string? AccessKey { get; set; }

    /// <summary>Secret key, with <see cref="AccessKey"/>.</summary>
    public string? SecretKey { get; set; }

    /// <summary>A key prefix for everything Wharf stores, e.g. <c>wharf/</c>. Default empty.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>Path-style URLs (<c>http://host/bucket/key</c>). Default: true when <see cref="ServiceUrl"/> is set, else false.</summary>
    public bool? ForcePathStyle { get; set; }

    /// <summary>
    /// When the SDK adds checksums to requests: <c>WhenRequired</c> or <c>WhenSupported</c>. Default <c>WhenRequired</c> when
    /// <see cref="ServiceUrl"/> is set (Ceph's gateway, among others, refuses the SDK's trailing checksums), else <c>WhenSupported</c>.
    /// </summary>
    public string? RequestChecksum { get; set; }

    /// <summary>Answer blob GETs with a 307 to a presigned URL of the object instead of streaming it through Wharf. Default false.</summary>
    public bool RedirectDownloads { get; set; }

    /// <summary>How long a presigned download URL stays valid. Default 20 minutes.</summary>
    public TimeSpan RedirectUrlLifetime { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>
    /// Size of each part of a multipart upload, and of the buffer an upload streams through (memory per upload is at most
    /// <see cref="UploadConcurrency"/> + 1 of these). At least 5 MiB. Default 8 MiB.
    /// </summary>
    public int PartSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>Parts of one upload sent to the server at the same time. Default 2.</summary>
    public int UploadConcurrency { get; set; } = 2;

    /// <summary>Largest object copied in one request (S3 allows 5 GiB); larger blobs are copied in parts of this size.</summary>
    internal long CopyPartLimit { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>The effective checksum setting.</summary>
    public bool ChecksumWhenSupported => string.Equals(RequestChecksum ?? (ServiceUrl is null ? "WhenSupported" : "WhenRequired"), "WhenSupported", StringComparison.OrdinalIgnoreCase);

    /// <summary>The effective path-style setting.</summary>
    public bool PathStyle => ForcePathStyle ?? ServiceUrl is not null;

    /// <summary><see cref="Prefix"/> as keys start with it: empty, or ending with one <c>/</c>.</summary>
    public string KeyPrefix => Prefix.Trim('/') is { Length: > 0 } p ? p + "/" : "";

    /// <summary>Every problem with these values, each naming its key and what is allowed.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket))
            yield return "Wharf:Storage:S3:Bucket is required with Wharf:Storage:Type=S3.";
        else if (!BucketName().IsMatch(Bucket))
            yield return $"Wharf:Storage:S3:Bucket '{Bucket}' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-').";
        if (ServiceUrl is not null && (!Uri.TryCreate(ServiceUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
            yield return $"Wharf:Storage:S3:ServiceUrl '{ServiceUrl}' must be an absolute http or https URL.";
        if (string.IsNullOrWhiteSpace(Region))
            yield return "Wharf:Storage:S3:Region must not be empty.";
        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
            yield return "Wharf:Storage:S3:AccessKey and SecretKey go together: give both, or neither to use the environment's credentials.";
        if (RequestChecksum is { Length: > 0 } && !IsChecksumValue(RequestChecksum))
            yield return $"Wharf:Storage:S3:RequestChecksum '{RequestChecksum}' is not known; allowed values: WhenRequired, WhenSupported.";
        if (Prefix.Contains("//", StringComparison.Ordinal) || Prefix.Contains("..", StringComparison.Ordinal))
            yield return $"Wharf:Storage:S3:Prefix '{Prefix}' must not contain '//' or '..'.";
        if (PartSize < MinimumPartSize || PartSize > 1024 * 1024 * 1024)
            yield return $"Wharf:Storage:S3:PartSize must be between {MinimumPartSize} (5 MiB) and 1 GiB, not {PartSize}.";
        if (UploadConcurrency is < 1 or > 32)
            yield return $"Wharf:Storage:S3:UploadConcurrency must be between 1 and 32, not {UploadConcurrency}.";
        if (RedirectUrlLifetime < TimeSpan.FromMinutes(1) || RedirectUrlLifetime > TimeSpan.FromDays(7))
            yield return "Wharf:Storage:S3:RedirectUrlLifetime must be between 1 minute and 7 days.";
    }

    private static bool IsChecksumValue(string value) =>
        value.Equals("WhenRequired", StringComparison.OrdinalIgnoreCase) || value.Equals("WhenSupported", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}
