namespace Wharf.Core.Accounts;

/// <summary>Why a write to the account store did not happen.</summary>
public enum AccountWriteOutcome
{
    Done,
    NameTaken,
    NotFound,
}

/// <summary>Users, organizations, memberships, tokens and repository visibility in the metadata store.</summary>
public interface IAccountStore
{
    /// <summary>Creates a user; the first user of an instance (or <paramref name="admin"/>) is an administrator. Null when the name is taken by a user or organization.</summary>
    Task<UserAccount?> CreateUserAsync(string name, string? email, string passwordHash, bool admin, CancellationToken cancellationToken);

    Task<long> CountUsersAsync(CancellationToken cancellationToken);

    Task<UserAccount?> FindUserAsync(string name, CancellationToken cancellationToken);

    Task<bool> SetPasswordHashAsync(long userId, string passwordHash, CancellationToken cancellationToken);

    Task<AccessTokenInfo> CreateAccessTokenAsync(long userId, string name, string prefix, string tokenHash, TokenScopes scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken);

    /// <summary>An unrevoked token by its hash, with its owner (expiry is checked by the caller).</summary>
    Task<AccessTokenOwner?> FindAccessTokenAsync(string tokenHash, CancellationToken cancellationToken);

    Task<IReadOnlyList<AccessTokenInfo>> ListAccessTokensAsync(long userId, CancellationToken cancellationToken);

    Task<bool> RevokeAccessTokenAsync(long userId, long tokenId, CancellationToken cancellationToken);

    Task TouchAccessTokenAsync(long tokenId, DateTimeOffset at, CancellationToken cancellationToken);

    Task StoreRefreshTokenAsync(string tokenHash, long userId, string clientId, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    Task<RefreshTokenInfo?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken);

    Task<UserAccount?> FindUserByIdAsync(long id, CancellationToken cancellationToken);

    /// <summary>Revokes every refresh token of a user (after a password change).</summary>
    Task RevokeRefreshTokensAsync(long userId, CancellationToken cancellationToken);

    /// <summary>Creates an organization owned by <paramref name="ownerId"/>; null when the name is taken.</summary>
    Task<Organization?> CreateOrganizationAsync(string name, long ownerId, CancellationToken cancellationToken);

    Task<Organization?> FindOrganizationAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<OrganizationMember>> ListMembersAsync(long organizationId, CancellationToken cancellationToken);

    Task SetMemberAsync(long organizationId, long userId, OrganizationRole role, CancellationToken cancellationToken);

    Task<bool> RemoveMemberAsync(long organizationId, long userId, CancellationToken cancellationToken);

    /// <summary>The organizations <paramref name="username"/> belongs to, with the role in each.</summary>
    Task<IReadOnlyDictionary<string, OrganizationRole>> GetMembershipsAsync(string username, CancellationToken cancellationToken);

    /// <summary>The stored visibility of a repository; null when the repository does not exist. <c>Exists</c> with a null visibility means "not set yet".</summary>
    Task<(bool Exists, RepositoryVisibility? Visibility)> GetVisibilityAsync(string repository, CancellationToken cancellationToken);

    /// <summary>Sets a repository's visibility; false when it does not exist. The change is journaled in the same transaction.</summary>
    Task<bool> SetVisibilityAsync(string repository, RepositoryVisibility visibility, Events.RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>Sets the visibility when none is set yet (the first push).</summary>
    Task SetVisibilityIfUnsetAsync(string repository, RepositoryVisibility visibility, CancellationToken cancellationToken);
}

/// <summary>The audit log: append-only records, read by administrators newest first.</summary>
public interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> records older than <paramref name="beforeId"/> (all when null), newest first.</summary>
    Task<IReadOnlyList<AuditEvent>> ListAsync(long? beforeId, int limit, CancellationToken cancellationToken);
}

/// <summary>Hashes and checks passwords (the framework's PBKDF2 <c>PasswordHasher</c> in the server).</summary>
public interface IPasswordHashing
{
    string Hash(string password);

    /// <summary>Whether <paramref name="password"/> matches; <paramref name="rehash"/> is set when the stored hash should be upgraded.</summary>
    bool Verify(string hash, string password, out bool rehash);
}
