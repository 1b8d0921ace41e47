using System.Globalization;
using Wharf.Core.Accounts;
using Wharf.Core.Registry;
using Wharf.Server.Errors;

namespace Wharf.Server.Accounts;

/// <summary>
/// Authenticates every request that carries an <c>Authorization</c> header (see <see cref="CredentialAuthenticator"/>)
/// and sets <see cref="HttpContext.User"/>. A credential that does not check out is answered here: 401 (with the
/// Bearer challenge on <c>/v2/</c>), 403 for a disabled account, or 429 with <c>Retry-After</c> once failed logins hit
/// the limit; in the error shape of the surface asked (OCI envelope on <c>/v2/</c> and <c>/auth</c>, problem details
/// elsewhere). Requests without the header go on anonymous.
/// Registry tokens from <c>/auth/token</c> and internal credentials are for the registry surfaces only
/// (<see cref="AcceptsRegistryTokens"/>): anywhere else (the REST API, the build endpoints, the web UI) they are
/// refused, so that such a token never grants more than the <c>access</c> claim it carries.
/// </summary>
public sealed class WharfAuthenticationMiddleware(RequestDelegate next, CredentialAuthenticator authenticator, AuthOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization;
        if (header.Count == 0)
        {
            await next(context);
            return;
        }
        var path = context.Request.Path;
        var check = await authenticator.CheckAsync(header.ToString(), ClientAddress(context), registryTokensAllowed: path.StartsWithSegments("/v2"), context.RequestAborted);
        switch (check.Outcome)
        {
            case CredentialOutcome.Authenticated when check.Principal is TokenPrincipal && !AcceptsRegistryTokens(path):
                await WriteFailureAsync(context, StatusCodes.Status401Unauthorized, RegistryErrorCode.Unauthorized,
                    "Registry tokens from /auth/token work on /v2/ only. Here, use your password, a personal access token or a session (refresh) token.",
                    "invalid_token");
                return;
            case CredentialOutcome.Authenticated:
                context.User = check.Principal!;
                await next(context);
                return;
            case CredentialOutcome.RateLimited:
                var seconds = Math.Max(1, (int)Math.Ceiling(check.RetryAfter!.Value.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await WriteFailureAsync(context, StatusCodes.Status429TooManyRequests, RegistryErrorCode.TooManyRequests,
                    $"Too many failed logins; try again in {seconds} seconds.", null);
                return;
            case CredentialOutcome.Disabled:
                await WriteFailureAsync(context, StatusCodes.Status403Forbidden, RegistryErrorCode.Denied,
                    "This account is disabled; ask an administrator.", null);
                return;
            case CredentialOutcome.Invalid:
                await WriteFailureAsync(context, StatusCodes.Status401Unauthorized, RegistryErrorCode.Unauthorized,
                    check.WasBearer ? "The bearer token is invalid, expired or revoked." : "Invalid user name or password.",
                    check.WasBearer ? "invalid_token" : null);
                return;
            default:
                await next(context);
                return;
        }
    }

    /// <summary>
    /// The surfaces where a registry token (or an internal credential) is a credential: the registry (<c>/v2/</c>),
    /// Docker's search (<c>/v1/</c>, which docker calls with a registry token for <c>registry:catalog:search</c>) and the
    /// token endpoint (which turns an internal credential into a registry token, and refuses registry tokens itself).
    /// </summary>
    public static bool AcceptsRegistryTokens(PathString path) =>
        path.StartsWithSegments("/v2") || path.StartsWithSegments("/v1") || path.StartsWithSegments("/auth");

    /// <summary>
    /// The client's address: the connection's, or the one a known proxy forwarded (<c>Wharf:Http:KnownProxies</c>;
    /// the forwarded-headers middleware has already replaced the connection's address then).
    /// </summary>
    public static string? ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    private async Task WriteFailureAsync(HttpContext context, int status, RegistryErrorCode code, string message, string? bearerError)
    {
        var path = context.Request.Path;
        var ct = context.RequestAborted;
        if (path.StartsWithSegments("/v2") || path.StartsWithSegments("/auth"))
        {
            if (path.StartsWithSegments("/v2"))
            {
                context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
                if (status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = BearerChallenge.Build(context, options, null, bearerError);
            }
            else if (status == StatusCodes.Status401Unauthorized)
            {
                context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{options.Service}\"";
            }
            await OciErrors.WriteAsync(context.Response, new RegistryError(code, message, status), ct);
            return;
        }
        if (status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{options.Service}\"";
        if (Endpoints.Builds.LegacyBuildApi.IsLegacyPath(path))
        {
            // The earlier build service's clients read {"status", "message"}, also for a refused login.
            await Endpoints.Builds.LegacyBuildApi.WriteErrorAsync(context, status, message);
            return;
        }
        await ApiProblems.Status(status, message).ExecuteAsync(context);
    }
}
