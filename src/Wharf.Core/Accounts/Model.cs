namespace Wharf.Core.Accounts;

public enum RepositoryVisibility
{
    Private,
    Public,
}

/// <summary>A member's role in an organization. Owners manage members; maintainers push and delete; readers pull.</summary>
public enum OrganizationRole
{
    Reader,
    Maintainer,
    Owner,
}

/// <summary>What a personal access token may do.</summary>
[Flags]
public enum TokenScopes
{
    None = 0,
    Pull = 1,
    Push = 2,
    Delete = 4,

    /// <summary>Everything the user may do, including managing the account, tokens and organizations.</summary>
    Admin = 8,
}

/// <summary>
/// A user. <see cref="CredentialVersion"/> is the security stamp: a password change and disabling raise it, and every
/// session-like credential (registry tokens, refresh tokens, sign-in cookies) issued under an older value stops working.
/// </summary>
public sealed record UserAccount(long Id, string Name, string? Email, string PasswordHash, bool IsAdmin, DateTimeOffset CreatedAt,
    long CredentialVersion = 0, DateTimeOffset? DisabledAt = null, DateTimeOffset? LoginsUnlockedAt = null)
{
    public bool IsDisabled => DisabledAt is not null;
}

public sealed record AccessTokenInfo(long Id, long UserId, string Name, string Prefix, TokenScopes Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt);

/// <summary>A personal access token found by its hash, with its owner.</summary>
public sealed record AccessTokenOwner(AccessTokenInfo Token, UserAccount User);

public sealed record Organization(long Id, string Name, DateTimeOffset CreatedAt);

public sealed record OrganizationMember(string Username, OrganizationRole Role, DateTimeOffset AddedAt);

/// <summary>A refresh token to store (only its hash): the session of a client that logged in with <c>offline_token</c>.</summary>
public sealed record NewRefreshToken(string TokenHash, long UserId, long? AccessTokenId, TokenScopes Scopes, long CredentialVersion,
    string ClientId, string? ClientAddress, DateTimeOffset ExpiresAt);

/// <summary>
/// A refresh token as its owner sees it (never the secret): a login session of docker, wharf or another client.
/// <see cref="Scopes"/> are those of the credential that made it, the most it grants; <see cref="AccessTokenId"/> names
/// that credential when it was a personal access token (null: the password). <see cref="ExpiresAt"/> is the earlier of
/// its own expiry and its access token's.
/// </summary>
public sealed record RefreshTokenInfo(long Id, long UserId, long? AccessTokenId, string? AccessTokenName, TokenScopes Scopes, long CredentialVersion,
    string ClientId, string? ClientAddress, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? LastUsedAt);

/// <summary>
/// A refresh token found by its hash, with its owner. <see cref="CredentialAlive"/> is false when the personal access
/// token it was made with has since been revoked or has expired.
/// </summary>
public sealed record RefreshTokenOwner(RefreshTokenInfo Token, UserAccount User, bool CredentialAlive);

/// <summary>What deleting a user left behind: repositories in the user's namespace are kept (see <see cref="AccountService.DeleteUserAsync"/>).</summary>
public sealed record UserDeletion(string Username, long RepositoriesKept, IReadOnlyList<string> OrganizationsWithoutOwner);

/// <summary>Outcome of creating a user or an organization in the store.</summary>
public enum NameClaimOutcome
{
    Created,

    /// <summary>A user or organization has the name.</summary>
    Taken,

    /// <summary>No account has the name, but repositories live in that namespace (an administrator pushed there, or its user was deleted).</summary>
    NamespaceInUse,
}

/// <summary>One audit record.</summary>
public sealed record AuditEvent(long Id, DateTimeOffset At, string? Actor, string? ClientAddress, string Action, string? Target, bool Success, string? Detail);

/// <summary>An audit record to append.</summary>
public sealed record AuditEntry(string? Actor, string? ClientAddress, string Action, string? Target, bool Success = true, string? Detail = null);

/// <summary>Audit action names.</summary>
public static class AuditActions
{
    /// <summary>A person or client signed in: a token issued for credentials, <c>wharf login</c>, a web sign-in. Not every request.</summary>
    public const string Login = "login";
    /// <summary>Failed logins of a user at an address reached the limit: later attempts are refused until the window ends.</summary>
    public const string LoginLimited = "login.limited";
    public const string UserCreated = "user.created";
    public const string PasswordChanged = "user.password_changed";
    public const string TokenCreated = "token.created";
    public const string TokenRevoked = "token.revoked";
    public const string SessionRevoked = "session.revoked";
    public const string UserDisabled = "user.disabled";
    public const string UserEnabled = "user.enabled";
    public const string UserUnlocked = "user.unlocked";
    public const string UserMadeAdmin = "user.made_admin";
    public const string UserAdminRemoved = "user.admin_removed";
    public const string UserDeleted = "user.deleted";
    public const string OrganizationCreated = "org.created";
    public const string MemberSet = "org.member_set";
    public const string MemberRemoved = "org.member_removed";
    public const string VisibilityChanged = "repository.visibility_changed";
    public const string RepositoryCreated = "repository.created";
    public const string RepositoryUpdated = "repository.updated";
    public const string Push = "registry.push";
    public const string Delete = "registry.delete";
}

public static class AccountText
{
    public static string Format(OrganizationRole role) => role switch
    {
        OrganizationRole.Owner => "owner",
        OrganizationRole.Maintainer => "maintainer",
        _ => "reader",
    };

    public static bool TryParseRole(string? text, out OrganizationRole role)
    {
        switch (text)
        {
            case "owner": role = OrganizationRole.Owner; return true;
            case "maintainer": role = OrganizationRole.Maintainer; return true;
            case "reader": role = OrganizationRole.Reader; return true;
            default: role = default; return false;
        }
    }

    public static string Format(RepositoryVisibility visibility) => visibility == RepositoryVisibility.Public ? "public" : "private";

    public static bool TryParseVisibility(string? text, out RepositoryVisibility visibility)
    {
        switch (text)
        {
            case "public": visibility = RepositoryVisibility.Public; return true;
            case "private": visibility = RepositoryVisibility.Private; return true;
            default: visibility = default; return false;
        }
    }

    public static IReadOnlyList<string> Format(TokenScopes scopes)
    {
        var list = new List<string>(4);
        if (scopes.HasFlag(TokenScopes.Pull)) list.Add("pull");
        if (scopes.HasFlag(TokenScopes.Push)) list.Add("push");
        if (scopes.HasFlag(TokenScopes.Delete)) list.Add("delete");
        if (scopes.HasFlag(TokenScopes.Admin)) list.Add("admin");
        return list;
    }

    public static bool TryParseScope(string? text, out TokenScopes scope)
    {
        scope = text switch
        {
            "pull" => TokenScopes.Pull,
            "push" => TokenScopes.Push,
            "delete" => TokenScopes.Delete,
            "admin" => TokenScopes.Admin,
            _ => TokenScopes.None,
        };
        return scope != TokenScopes.None;
    }
}
