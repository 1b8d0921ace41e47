namespace Wharf.Core.Registry;

/// <summary>The error codes of the OCI distribution spec, with the status each maps to.</summary>
public enum RegistryErrorCode
{
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,

    /// <summary>
    /// Not one of the spec's codes but the reference registry's (<c>UNAVAILABLE</c>, 503): the request may succeed when
    /// repeated, e.g. an upload that met a blob the garbage collector was deleting.
    /// </summary>
    Unavailable,

    /// <summary>Not one of the spec's codes: an unexpected failure of the server, sent as <c>UNKNOWN</c> with a 5xx.</summary>
    Unknown,
}

/// <summary>One error of the OCI error envelope, with the HTTP status it is sent with.</summary>
public sealed record RegistryError(RegistryErrorCode Code, string Message, int Status, object? Detail = null)
{
    public string CodeText => Code switch
    {
        RegistryErrorCode.BlobUnknown => "BLOB_UNKNOWN",
        RegistryErrorCode.BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
        RegistryErrorCode.BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
        RegistryErrorCode.DigestInvalid => "DIGEST_INVALID",
        RegistryErrorCode.ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
        RegistryErrorCode.ManifestInvalid => "MANIFEST_INVALID",
        RegistryErrorCode.ManifestUnknown => "MANIFEST_UNKNOWN",
        RegistryErrorCode.NameInvalid => "NAME_INVALID",
        RegistryErrorCode.NameUnknown => "NAME_UNKNOWN",
        RegistryErrorCode.SizeInvalid => "SIZE_INVALID",
        RegistryErrorCode.Unauthorized => "UNAUTHORIZED",
        RegistryErrorCode.Denied => "DENIED",
        RegistryErrorCode.Unsupported => "UNSUPPORTED",
        RegistryErrorCode.TooManyRequests => "TOOMANYREQUESTS",
        RegistryErrorCode.Unavailable => "UNAVAILABLE",
        _ => "UNKNOWN",
    };

    public static RegistryError BlobUnknown(string digest) => new(RegistryErrorCode.BlobUnknown, "blob unknown to registry", 404, new { digest });
    public static RegistryError BlobUploadUnknown() => new(RegistryErrorCode.BlobUploadUnknown, "blob upload unknown to registry", 404);
    public static RegistryError BlobUploadInvalid(string message, int status = 400) => new(RegistryErrorCode.BlobUploadInvalid, message, status);
    public static RegistryError DigestInvalid(string message) => new(RegistryErrorCode.DigestInvalid, message, 400);
    public static RegistryError ManifestBlobUnknown(string digest) => new(RegistryErrorCode.ManifestBlobUnknown, "manifest references a manifest or blob unknown to registry", 400, new { digest });
    public static RegistryError ManifestInvalid(string message, int status = 400) => new(RegistryErrorCode.ManifestInvalid, message, status);
    public static RegistryError ManifestUnknown(string reference) => new(RegistryErrorCode.ManifestUnknown, "manifest unknown to registry", 404, new { reference });
    public static RegistryError NameInvalid(string message) => new(RegistryErrorCode.NameInvalid, message, 400);
    public static RegistryError NameUnknown(string name) => new(RegistryErrorCode.NameUnknown, "repository name not known to registry", 404, new { name });
    public static RegistryError SizeInvalid(string message) => new(RegistryErrorCode.SizeInvalid, message, 400);
    public static RegistryError Unavailable(string message) => new(RegistryErrorCode.Unavailable, message, 503);
    public static RegistryError Unsupported(string message, int status = 405) => new(RegistryErrorCode.Unsupported, message, status);
}
