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

    /// <summary>Token scopes of a personal access token ("pull", "push", "delete", "admin"), one claim each.</summary>
    public const string TokenScope = "wharf:scope";

    /// <summary>The user name of an authenticated caller, or null for anonymous.</summary>
    public static string? Username(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true ? caller.FindFirst(Subject)?.Value : null;

    public static bool IsAdmin(this ClaimsPrincipal caller) =>
        caller.Identity?.IsAuthenticated == true && caller.FindFirst(Admin)?.Value == "true";
}
