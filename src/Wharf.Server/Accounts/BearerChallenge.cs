using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Endpoints;

namespace Wharf.Server.Accounts;

/// <summary>
/// The <c>WWW-Authenticate: Bearer realm="…/auth/token",service="…",scope="…"</c> challenge of the Docker token
/// flow; <c>error="insufficient_scope"</c> when the caller's bearer token lacks the action, <c>error="invalid_token"</c>
/// when the token did not verify. The realm is this request's scheme, host and path base. Several scopes are
/// separated by spaces in the one <c>scope</c> parameter, as the reference registry writes them.
/// </summary>
public sealed class BearerChallenge(AuthOptions options) : IRegistryChallenge
{
    public ValueTask ChallengeAsync(HttpContext context, IReadOnlyList<RegistryScope> scopes)
    {
        var error = context.User is TokenPrincipal { IsInternal: false } ? "insufficient_scope" : null;
        var scope = string.Join(' ', scopes.Select(s => s.ToString()).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal));
        context.Response.Headers.WWWAuthenticate = Build(context, options, scope, error);
        return ValueTask.CompletedTask;
    }

    public static string Realm(HttpContext context) =>
        $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/auth/token";

    public static string Build(HttpContext context, AuthOptions options, string? scope, string? error)
    {
        var value = $"Bearer realm=\"{Realm(context)}\",service=\"{options.Service}\"";
        if (!string.IsNullOrEmpty(scope)) value += $",scope=\"{scope}\"";
        if (error is not null) value += $",error=\"{error}\"";
        return value;
    }
}
