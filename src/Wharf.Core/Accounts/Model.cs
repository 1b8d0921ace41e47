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

public sealed record UserAccount(long Id, string Name, string? Email, string PasswordHash, bool IsAdmin, DateTimeOffset CreatedAt);

public sealed record AccessTokenInfo(long Id, long UserId, string Name, string Prefix, TokenScopes Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt);

/// <summary>A personal access token found by its hash, with its owner.</summary>
public sealed record AccessTokenOwner(AccessTokenInfo Token, UserAccount User);

public sealed record Organization(long Id, string Name, DateTimeOffset CreatedAt);

public sealed record OrganizationMember(string Username, OrganizationRole Role, DateTimeOffset AddedAt);

/// <summary>A stored refresh token (only its hash is stored).</summary>
public sealed record RefreshTokenInfo(long UserId, string ClientId, DateTimeOffset ExpiresAt);

/// <summary>One audit record.</summary>
public sealed record AuditEvent(long Id, DateTimeOffset At, string? Actor, string? ClientAddress, string Action, string? Target, bool Success, string? Detail);

/// <summary>An audit record to append.</summary>
public sealed record AuditEntry(string? Actor, string? ClientAddress, string Action, string? Target, bool Success = true, string? Detail = null);

/// <summary>Audit action names.</summary>
public static class AuditActions
{
    public const string Login = "login";
    public const string UserCreated = "user.created";
    public const string PasswordChanged = "user.password_changed";
    public const string TokenCreated = "token.created";
    public const string TokenRevoked = "token.revoked";
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
