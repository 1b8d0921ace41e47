using System.Security.Claims;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.References;
using Wharf.Core.Registry;
using Wharf.Server.Accounts;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary>
/// The Docker registry token endpoint, <c>/auth/token</c>. <c>GET</c> with Basic credentials (password, personal access
/// token or internal credential) or none (anonymous), repeated <c>scope</c> parameters, <c>offline_token=true</c> for a
/// refresh token; <c>POST</c> with the OAuth2 form (<c>grant_type=password|refresh_token</c>). The token grants, per
/// requested scope, the intersection of the requested and the allowed actions.
/// </summary>
public static class TokenApi
{
    public static IEndpointRouteBuilder MapTokenApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth").WithBodyLimit(BodyLimits.TokenForm).ExcludeFromDescription();
        auth.MapGet("/token", GetAsync);
        auth.MapPost("/token", PostAsync);
        return app;
    }

    private static async Task GetAsync(HttpContext context, TokenIssuer issuer, SessionService sessions, AccountService accounts)
    {
        var ct = context.RequestAborted;
        var query = context.Request.Query;
        if (ServiceMismatch(context, query["service"].ToString(), issuer.Options) is { } mismatch)
        {
            await OciErrors.WriteAsync(context.Response, mismatch, ct);
            return;
        }
        if (context.User is TokenPrincipal { IsInternal: false })
        {
            await OciErrors.WriteAsync(context.Response, new RegistryError(RegistryErrorCode.Unauthorized, "Present Basic credentials (or none) to get a token, not a bearer token.", 401), ct);
            return;
        }
        var offline = string.Equals(query["offline_token"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        var clientId = query["client_id"].ToString() is { Length: > 0 } c ? c : "unknown";
        var response = await issuer.IssueAsync(context.User, query["scope"], ct);
        var address = WharfAuthenticationMiddleware.ClientAddress(context);
        if (offline && await sessions.IssueAsync(context.User, clientId, address, ct) is { } refresh) response = response with { RefreshToken = refresh };
        await RecordLoginAsync(accounts, context.User, address, clientId, response.RefreshToken is not null, ct);
        await TypedResults.Json(response, AccountsJsonContext.Default.RegistryTokenResponse).ExecuteAsync(context);
    }

    private static async Task PostAsync(HttpContext context, TokenIssuer issuer, CredentialAuthenticator authenticator, SessionService sessions, AccountService accounts)
    {
        var ct = context.RequestAborted;
        if (!context.Request.HasFormContentType)
        {
            await OAuthErrorAsync(context, 400, "invalid_request", "Send an application/x-www-form-urlencoded form.");
            return;
        }
        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await OAuthErrorAsync(context, 413, "invalid_request", $"The form is larger than {BodyLimits.TokenForm} bytes.");
            return;
        }
        catch (InvalidDataException e)
        {
            // The framework's form limits: more than 1,024 fields, a key or value over its length limit.
            await OAuthErrorAsync(context, 400, "invalid_request", $"The form is over this server's limits: {e.Message}");
            return;
        }
        if (ServiceMismatch(context, form["service"].ToString(), issuer.Options) is not null)
        {
            await OAuthErrorAsync(context, 400, "invalid_request", $"This token service is '{issuer.Options.Service}'.");
            return;
        }
        var clientId = form["client_id"].ToString();
        if (clientId.Length == 0 || clientId.Length > SessionService.MaxClientIdLength)
        {
            await OAuthErrorAsync(context, 400, "invalid_request", "client_id is required.");
            return;
        }
        var scopes = form["scope"];
        var grantType = form["grant_type"].ToString();
        var address = WharfAuthenticationMiddleware.ClientAddress(context);
        ClaimsPrincipal principal;
        string? refreshToken = null;
        switch (grantType)
        {
            case "password":
                var username = form["username"].ToString();
                var password = form["password"].ToString();
                if (username.Length == 0 || password.Length == 0)
                {
                    await OAuthErrorAsync(context, 400, "invalid_request", "username and password are required.");
                    return;
                }
                var check = await authenticator.CheckSecretAsync(username, password, address, ct);
                if (check.Outcome == CredentialOutcome.RateLimited)
                {
                    context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(check.RetryAfter!.Value.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    await OAuthErrorAsync(context, 429, "slow_down", "Too many failed logins.");
                    return;
                }
                if (check.Outcome == CredentialOutcome.Disabled)
                {
                    await OAuthErrorAsync(context, 401, "invalid_grant", "This account is disabled; ask an administrator.");
                    return;
                }
                if (check.Outcome != CredentialOutcome.Authenticated)
                {
                    await OAuthErrorAsync(context, 401, "invalid_grant", "Invalid user name or password.");
                    return;
                }
                principal = check.Principal!;
                if (form["access_type"].ToString() == "offline") refreshToken = await sessions.IssueAsync(principal, clientId, address, ct);
                await RecordLoginAsync(accounts, principal, address, clientId, refreshToken is not null, ct);
                break;
            case "refresh_token":
                var presented = form["refresh_token"].ToString();
                var session = await sessions.AuthenticateAsync(presented, ct);
                if (session is null || session.User.IsDisabled)
                {
                    await OAuthErrorAsync(context, 401, "invalid_grant", session is null
                        ? "The refresh token is unknown, revoked or expired, or its credential changed: log in again."
                        : "This account is disabled; ask an administrator.");
                    return;
                }
                // The session grants at most what the credential that made it allowed: its scopes are on the principal.
                principal = CredentialAuthenticator.ToPrincipal(session);
                refreshToken = presented;
                break;
            default:
                await OAuthErrorAsync(context, 400, "unsupported_grant_type", "grant_type is 'password' or 'refresh_token'.");
                return;
        }
        var response = await issuer.IssueAsync(principal, scopes, ct);
        if (refreshToken is not null) response = response with { RefreshToken = refreshToken };
        await TypedResults.Json(response, AccountsJsonContext.Default.RegistryTokenResponse).ExecuteAsync(context);
    }

    /// <summary>A token issued for credentials is a sign-in (docker login, a pull with stored credentials, wharf login): audited. Anonymous and internal callers are not.</summary>
    private static Task RecordLoginAsync(AccountService accounts, ClaimsPrincipal caller, string? address, string clientId, bool session, CancellationToken ct) =>
        caller.Method() is Caller.Password or Caller.AccessToken or Caller.RefreshToken
            ? accounts.RecordLoginAsync(new RequestOrigin(caller, address), $"token for {clientId}, {caller.Method()}{(session ? ", new session" : "")}", ct)
            : Task.CompletedTask;

    private static RegistryError? ServiceMismatch(HttpContext context, string service, AuthOptions options) =>
        service.Length > 0 && service != options.Service
            ? new RegistryError(RegistryErrorCode.Unsupported, $"This token service is '{options.Service}', not '{service}'.", 400)
            : null;

    private static Task OAuthErrorAsync(HttpContext context, int status, string error, string description) =>
        OAuthErrors.WriteAsync(context, status, error, description);
}

/// <summary>Works out the grants of a token request and signs the token.</summary>
public sealed class TokenIssuer(RegistryTokenService tokens, RepositoryPermissions permissions, AccountsRegistryAccessPolicy policy, AuthOptions options)
{
    public AuthOptions Options => options;

    /// <summary>
    /// Per requested scope, the intersection of the requested actions and what the caller may do: the user's permissions
    /// limited by the credential's scopes (a personal access token's, or a session's, which are those of the credential
    /// that made it); for an internal credential its own grants.
    /// </summary>
    public async Task<RegistryTokenResponse> IssueAsync(ClaimsPrincipal caller, IEnumerable<string?> scopes, CancellationToken ct)
    {
        var granted = new List<AccessEntry>();
        var username = caller.Username();
        foreach (var requested in ScopeParser.Parse(scopes))
        {
            if (requested.Type == "registry" && requested.Name == "catalog")
            {
                var mayList = caller is not TokenPrincipal && (username is not null || options.AnonymousPull);
                string[] listing = [.. requested.Actions.Where(a => a is "*" or "search").Distinct()];
                if (mayList && listing.Length > 0) granted.Add(new AccessEntry("registry", "catalog", listing));
                continue;
            }
            if (requested.Type != "repository" || !RepositoryName.IsValid(requested.Name)) continue;
            RegistryActions allowed;
            if (caller is TokenPrincipal internalCaller)
            {
                allowed = internalCaller.Grants.For(requested.Name);
                if (!allowed.HasFlag(RegistryActions.Pull) && await policy.SubjectMayPullAsync(internalCaller, requested.Name, ct)) allowed |= RegistryActions.Pull;
            }
            else
            {
                allowed = await permissions.GetActionsAsync(username, caller.IsAdmin(), requested.Name, ct) & caller.ActionLimit();
            }
            var actions = ScopeParser.ParseActions(requested.Actions) & allowed;
            if (actions != RegistryActions.None) Merge(granted, requested.Name, actions);
        }
        var issued = tokens.Issue(username ?? "", granted, options.TokenLifetime, credentialVersion: caller.CredentialVersion());
        var scopeText = string.Join(' ', granted.Select(g => $"{g.Type}:{g.Name}:{string.Join(',', g.Actions)}"));
        return new RegistryTokenResponse(issued.Token, issued.Token, (int)options.TokenLifetime.TotalSeconds, issued.IssuedAt, null, scopeText.Length == 0 ? null : scopeText);
    }

    private static void Merge(List<AccessEntry> granted, string repository, RegistryActions actions)
    {
        var index = granted.FindIndex(g => g.Type == "repository" && g.Name == repository);
        if (index >= 0)
        {
            actions |= ScopeParser.ParseActions(granted[index].Actions);
            granted[index] = new AccessEntry("repository", repository, ScopeParser.FormatActions(actions));
        }
        else
        {
            granted.Add(new AccessEntry("repository", repository, ScopeParser.FormatActions(actions)));
        }
    }
}
