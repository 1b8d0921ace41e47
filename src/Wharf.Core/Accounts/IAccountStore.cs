namespace Wharf.Core.Accounts;

/// <summary>Users, organizations, memberships, tokens and repository visibility in the metadata store.</summary>
public interface IAccountStore
{
    /// <summary>
    /// Creates a user; the first user of an instance (or <paramref name="admin"/>) is an administrator. Refused when the
    /// name is a user or organization (<see cref="NameClaimOutcome.Taken"/>) or when repositories already live in that
    /// namespace (<see cref="NameClaimOutcome.NamespaceInUse"/>), decided in the write transaction.
    /// </summary>
    Task<(NameClaimOutcome Outcome, UserAccount? User)> CreateUserAsync(string name, string? email, string passwordHash, bool admin, CancellationToken cancellationToken);

    Task<long> CountUsersAsync(CancellationToken cancellationToken);

    Task<UserAccount?> FindUserAsync(string name, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> users after <paramref name="afterName"/> (all when null), in name order.</summary>
    Task<IReadOnlyList<UserAccount>> ListUsersAsync(string? afterName, int limit, CancellationToken cancellationToken);

    /// <summary>Stores a new hash of the same password (an upgraded hash): nothing else changes.</summary>
    Task<bool> SetPasswordHashAsync(long userId, string passwordHash, CancellationToken cancellationToken);

    /// <summary>
    /// A new password: stores its hash, raises the credential version and revokes every refresh token of the user, in one
    /// transaction. The new credential version, or null when the user is gone.
    /// </summary>
    Task<long?> ChangePasswordAsync(long userId, string passwordHash, CancellationToken cancellationToken);

    /// <summary>
    /// Disables (raising the credential version and revoking every refresh token) or enables the user. False when the user is gone.
    /// </summary>
    Task<bool> SetDisabledAsync(long userId, bool disabled, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the user an administrator or takes that away. Taking it away also raises the credential version (revoking
    /// every refresh token), so nothing issued under administrator rights outlives them. False when the user is gone.
    /// </summary>
    Task<bool> SetAdminAsync(long userId, bool admin, CancellationToken cancellationToken);

    /// <summary>Records that the user's failed-login limits were cleared at <paramref name="at"/>.</summary>
    Task<bool> SetLoginsUnlockedAsync(long userId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the user with their tokens, refresh tokens and memberships. The name stays claimed (no later sign-up takes
    /// over the namespace); repositories in it are kept. Null when the user is gone.
    /// </summary>
    Task<UserDeletion?> DeleteUserAsync(long userId, CancellationToken cancellationToken);

    Task<AccessTokenInfo> CreateAccessTokenAsync(long userId, string name, string prefix, string tokenHash, TokenScopes scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken);

    /// <summary>An unrevoked token by its hash, with its owner (expiry is checked by the caller).</summary>
    Task<AccessTokenOwner?> FindAccessTokenAsync(string tokenHash, CancellationToken cancellationToken);

    Task<IReadOnlyList<AccessTokenInfo>> ListAccessTokensAsync(long userId, CancellationToken cancellationToken);

    /// <summary>Revokes a personal access token and every refresh token made with it.</summary>
    Task<bool> RevokeAccessTokenAsync(long userId, long tokenId, CancellationToken cancellationToken);

    Task TouchAccessTokenAsync(long tokenId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a refresh token. The user's refresh tokens that can no longer be used are dropped, and the least recently
    /// used beyond <paramref name="maxPerUser"/> (counting the new one), so that no user grows the table without bound.
    /// </summary>
    Task<RefreshTokenInfo> StoreRefreshTokenAsync(NewRefreshToken token, int maxPerUser, CancellationToken cancellationToken);

    /// <summary>An unrevoked, unexpired refresh token by its hash, with its owner (the caller checks the credential version and the rest).</summary>
    Task<RefreshTokenOwner?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>The user's refresh tokens that still work: unrevoked, unexpired, of the current credential version, with a live access token.</summary>
    Task<IReadOnlyList<RefreshTokenInfo>> ListRefreshTokensAsync(long userId, CancellationToken cancellationToken);

    Task<bool> RevokeRefreshTokenAsync(long userId, long refreshTokenId, CancellationToken cancellationToken);

    Task TouchRefreshTokenAsync(long refreshTokenId, DateTimeOffset at, CancellationToken cancellationToken);

    Task<UserAccount?> FindUserByIdAsync(long id, CancellationToken cancellationToken);

    /// <summary>
    /// Creates an organization owned by <paramref name="ownerId"/>. Refused when the name is taken, and, unless
    /// <paramref name="mayAdoptNamespace"/> (an administrator), when repositories already live in that namespace or a
    /// deleted user left the name claimed.
    /// </summary>
    Task<(NameClaimOutcome Outcome, Organization? Organization)> CreateOrganizationAsync(string name, long ownerId, bool mayAdoptNamespace, CancellationToken cancellationToken);

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
