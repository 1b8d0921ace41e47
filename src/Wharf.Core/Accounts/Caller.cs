using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>Reads what the authentication step put on a <see cref="ClaimsPrincipal"/>.</summary>
public static class Caller
{
    public const string Password = "password";
    public const string AccessToken = "pat";
    public const string Bearer = "bearer";
    public const string Internal = "internal";

    public static string? Method(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true ? caller.FindFirst(WharfClaims.AuthMethod)?.Value : null;

    /// <summary>The scopes of the personal access token the caller used; everything for a password.</summary>
    public static TokenScopes Scopes(this ClaimsPrincipal caller)
    {
        if (caller.Method() != AccessToken) return TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin;
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
        caller.Method() is Password || (caller.Method() is AccessToken && caller.Scopes().HasFlag(TokenScopes.Admin));

    /// <summary>An administrator acting with a credential that may manage accounts.</summary>
    public static bool IsAdministrating(this ClaimsPrincipal caller) => caller.IsAdmin() && caller.CanManageAccount();
}
