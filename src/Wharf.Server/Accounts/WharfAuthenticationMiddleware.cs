using System.Globalization;
using Wharf.Core.Accounts;
using Wharf.Core.Registry;
using Wharf.Server.Errors;

namespace Wharf.Server.Accounts;

/// <summary>
/// Authenticates every request that carries an <c>Authorization</c> header (see <see cref="CredentialAuthenticator"/>)
/// and sets <see cref="HttpContext.User"/>. A credential that does not check out is answered here: 401 (with the
/// Bearer challenge on <c>/v2/</c>), or 429 with <c>Retry-After</c> once failed logins hit the limit; in the error
/// shape of the surface asked (OCI envelope on <c>/v2/</c> and <c>/auth</c>, problem details elsewhere).
/// Requests without the header go on anonymous.
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
        var check = await authenticator.CheckAsync(header.ToString(), ClientAddress(context), bearerAllowsAccessToken: !path.StartsWithSegments("/v2"), context.RequestAborted);
        switch (check.Outcome)
        {
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
            case CredentialOutcome.Invalid:
                await WriteFailureAsync(context, StatusCodes.Status401Unauthorized, RegistryErrorCode.Unauthorized,
                    check.WasBearer ? "The bearer token is invalid or expired." : "Invalid user name or password.",
                    check.WasBearer ? "invalid_token" : null);
                return;
            default:
                await next(context);
                return;
        }
    }

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
        await TypedResults.Problem(message, statusCode: status, title: status == 429 ? "Too many requests" : "Unauthorized").ExecuteAsync(context);
    }
}
