using Microsoft.AspNetCore.Http.Metadata;

namespace Wharf.Server.Http;

/// <summary>
/// Request body limits, per endpoint group. The limit is endpoint metadata (<see cref="IRequestSizeLimitMetadata"/>):
/// routing sets it on the server's <c>IHttpMaxRequestBodySizeFeature</c> before the handler runs, so Kestrel enforces
/// it while the body is read, chunked bodies included, and <see cref="ApiBody"/> answers 413 when it is hit.
/// </summary>
public static class BodyLimits
{
    /// <summary>What any route without a limit of its own accepts (the Kestrel-wide limit). 1 MiB.</summary>
    public const long Default = 1024 * 1024;

    /// <summary>JSON bodies of accounts, tokens, organizations and credentials. 64 KiB.</summary>
    public const long SmallJson = 64 * 1024;

    /// <summary>Repository bodies, which carry a README (at most 100,000 characters, escaped). 1 MiB.</summary>
    public const long RepositoryJson = 1024 * 1024;

    /// <summary>The <c>/auth/token</c> form. 64 KiB.</summary>
    public const long TokenForm = 64 * 1024;

    /// <summary>Limits the bodies of every endpoint of the group or route to <paramref name="bytes"/>; null lifts the limit (blob uploads, build contexts, which bound themselves).</summary>
    public static TBuilder WithBodyLimit<TBuilder>(this TBuilder builder, long? bytes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BodyLimit(bytes));

    /// <summary>The limit that applies to the request's endpoint (<see cref="Default"/> when it sets none or lifts it).</summary>
    public static long For(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? Default;

    private sealed class BodyLimit(long? bytes) : IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize { get; } = bytes;
    }
}
