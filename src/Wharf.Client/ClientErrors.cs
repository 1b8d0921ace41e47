using System.Net;

namespace Wharf.Client;

/// <summary>What kind of failure a client call met; the CLI maps it to an exit code.</summary>
public enum ClientErrorKind
{
    Failure,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unreachable,
}

/// <summary>A failure talking to a registry, the API or the Docker daemon, with a message meant for people.</summary>
public class WharfClientException(ClientErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public ClientErrorKind Kind { get; } = kind;

    public static ClientErrorKind KindOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.NotFound => ClientErrorKind.NotFound,
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ClientErrorKind.Unauthorized,
        HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity or HttpStatusCode.Conflict => ClientErrorKind.InvalidInput,
        _ => ClientErrorKind.Failure,
    };
}

/// <summary>An error answered by <c>/v2/</c>: the first entry of the OCI error envelope, or the bare status.</summary>
public sealed class RegistryException(HttpStatusCode status, string? code, string message)
    : WharfClientException(KindOf(status, code), message)
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>The OCI error code (MANIFEST_UNKNOWN, NAME_UNKNOWN, DENIED, …), or null when the body had none.</summary>
    public string? Code { get; } = code;

    private static ClientErrorKind KindOf(HttpStatusCode status, string? code) => code switch
    {
        "MANIFEST_UNKNOWN" or "NAME_UNKNOWN" or "BLOB_UNKNOWN" => ClientErrorKind.NotFound,
        "UNAUTHORIZED" or "DENIED" => ClientErrorKind.Unauthorized,
        "NAME_INVALID" or "TAG_INVALID" or "MANIFEST_INVALID" or "DIGEST_INVALID" => ClientErrorKind.InvalidInput,
        _ => WharfClientException.KindOf(status),
    };
}

/// <summary>An error answered by <c>/api/v1/</c> as RFC 7807 problem details.</summary>
public sealed class ApiException(HttpStatusCode status, string? title, string? detail)
    : WharfClientException(KindOf(status), detail is { Length: > 0 } ? detail : title is { Length: > 0 } ? title : $"The server answered {(int)status} {status}.")
{
    public HttpStatusCode Status { get; } = status;
    public string? Title { get; } = title;
    public string? Detail { get; } = detail;
}
