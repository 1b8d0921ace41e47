using System.Security.Claims;

namespace Wharf.Core.Access;

/// <summary>The claims Wharf puts on an authenticated caller, and helpers to read them.</summary>
public static class WharfClaims
{
    /// <summary>The user name (also the user's own namespace).</summary>
    public const string Subject = "sub";

    /// <summary>Present with value "true" on an administrator.</summary>
    public const string Admin = "wharf:admin";

    /// <summary>How the caller proved who they are: "password", "pat", "bearer", "internal".</summary>
    public const string AuthMethod = "wharf:auth";

    /// <summary>
    /// Scopes of the credential ("pull", "push", "delete", "admin"), one claim each: a personal access token's, a refresh
    /// token's (those of the credential that made it), and "pull" on a registry token that may list repositories.
    /// </summary>
    public const string TokenScope = "wharf:scope";

    /// <summary>The user's credential version (security stamp) when the credential was issued; see <c>AccountStatus</c>.</summary>
    public const string CredentialVersion = "wharf:ver";

    /// <summary>The id of the personal access token the caller used (or that made the caller's refresh token).</summary>
    public const string AccessTokenId = "wharf:tid";

    /// <summary>The id of the refresh token (session) the caller used.</summary>
    public const string SessionId = "wharf:sid";

    /// <summary>The user name of an authenticated caller, or null for anonymous.</summary>
    public static string? Username(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true ? caller.FindFirst(Subject)?.Value : null;

    public static bool IsAdmin(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true && caller.FindFirst(Admin)?.Value == "true";
}
