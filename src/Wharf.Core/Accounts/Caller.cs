using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>Reads what the authentication step put on a <see cref="ClaimsPrincipal"/>.</summary>
public static class Caller
{
    /// <summary>The user's password (Basic auth, the OAuth password grant).</summary>
    public const string Password = "password";

    /// <summary>A personal access token (Basic password or bearer on the REST API).</summary>
    public const string AccessToken = "pat";

    /// <summary>A refresh token (docker's identity token): a session with the scopes of the credential that made it.</summary>
    public const string RefreshToken = "refresh";

    /// <summary>A registry token from <c>/auth/token</c>: its <c>access</c> claim is all it grants, on <c>/v2/</c> only.</summary>
    public const string Bearer = "bearer";

    /// <summary>An internal credential of Wharf's own components (a build's push), on <c>/v2/</c> and <c>/auth/token</c> only.</summary>
    public const string Internal = "internal";

    public const TokenScopes AllScopes = TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin;

    public static string? Method(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true ? caller.FindFirst(WharfClaims.AuthMethod)?.Value : null;

    /// <summary>
    /// The scopes of the caller's credential: everything for a password (and for anonymous callers, whom permissions
    /// alone limit); the token's for a personal access token and a
    /// refresh token; for a registry token only what its claims list (at most "pull", to list repositories); nothing
    /// for an internal credential, whose grants only the registry's access policy reads.
    /// </summary>
    public static TokenScopes Scopes(this ClaimsPrincipal caller)
    {
        var method = caller.Method();
        // A password allows everything the user may do; an anonymous caller has no credential to limit what the
        // permissions of anonymous callers allow.
        if (method is Password or null) return AllScopes;
        if (method is not (AccessToken or RefreshToken or Bearer)) return TokenScopes.None;
        var scopes = TokenScopes.None;
        foreach (var claim in caller.FindAll(WharfClaims.TokenScope))
        {
            if (AccountText.TryParseScope(claim.Value, out var s)) scopes |= s;
        }
        return scopes;
    }

    /// <summary>The registry actions a caller's credential allows at most (a personal access token limits them).</summary>
    public static RegistryActions ActionLimit(this ClaimsPrincipal caller)
    {
        var scopes = caller.Scopes();
        if (scopes.HasFlag(TokenScopes.Admin)) return RegistryActions.Pull | RegistryActions.Push | RegistryActions.Delete;
        var actions = RegistryActions.None;
        if (scopes.HasFlag(TokenScopes.Pull)) actions |= RegistryActions.Pull;
        // Pushing and deleting need to read the repository too (blob existence checks, manifest HEAD).
        if (scopes.HasFlag(TokenScopes.Push)) actions |= RegistryActions.Pull | RegistryActions.Push;
        if (scopes.HasFlag(TokenScopes.Delete)) actions |= RegistryActions.Pull | RegistryActions.Delete;
        return actions;
    }

    /// <summary>
    /// Whether the caller may manage their account (password, tokens, organizations, visibility): a password,
    /// or a personal access token with the <c>admin</c> scope. Registry bearer tokens and internal credentials may not.
    /// </summary>
    public static bool CanManageAccount(this ClaimsPrincipal caller) =>
        caller.Method() is Password || (caller.Method() is AccessToken or RefreshToken && caller.Scopes().HasFlag(TokenScopes.Admin));

    /// <summary>The credential version the caller's credential was issued under (0 when it does not say).</summary>
    public static long CredentialVersion(this ClaimsPrincipal caller) =>
        long.TryParse(caller.FindFirst(WharfClaims.CredentialVersion)?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;

    /// <summary>The personal access token the caller used, or that made the caller's refresh token.</summary>
    public static long? AccessTokenId(this ClaimsPrincipal caller) => IdClaim(caller, WharfClaims.AccessTokenId);

    /// <summary>The refresh token (session) the caller used.</summary>
    public static long? SessionId(this ClaimsPrincipal caller) => IdClaim(caller, WharfClaims.SessionId);

    private static long? IdClaim(ClaimsPrincipal caller, string type) =>
        long.TryParse(caller.FindFirst(type)?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>An administrator acting with a credential that may manage accounts.</summary>
    public static bool IsAdministrating(this ClaimsPrincipal caller) => caller.IsAdmin() && caller.CanManageAccount();
}
