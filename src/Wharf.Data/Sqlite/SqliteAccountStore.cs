using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Accounts;
using static Wharf.Data.StoredText;

namespace Wharf.Data.Sqlite;

/// <summary><see cref="IAccountStore"/> and <see cref="IAuditLog"/> on SQLite (migration 0002_accounts).</summary>
public sealed class SqliteAccountStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null) : IAccountStore, IAuditLog
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    private const string UserColumns =
        "id AS Id, name AS Name, email AS Email, password_hash AS PasswordHash, is_admin AS IsAdmin, created_at AS CreatedAt, " +
        "credential_version AS CredentialVersion, disabled_at AS DisabledAt, logins_unlocked_at AS LoginsUnlockedAt";

    private const string RefreshSelect =
        """
        SELECT r.id AS Id, r.user_id AS UserId, r.access_token_id AS AccessTokenId, t.name AS AccessTokenName, r.scopes AS Scopes,
               r.credential_version AS CredentialVersion, r.client_id AS ClientId, r.client_address AS ClientAddress, r.created_at AS CreatedAt,
               min(r.expires_at, COALESCE(t.expires_at, r.expires_at)) AS ExpiresAt, r.last_used_at AS LastUsedAt,
               (r.access_token_id IS NULL OR t.revoked_at IS NULL) AS CredentialAlive
        FROM refresh_tokens r LEFT JOIN access_tokens t ON t.id = r.access_token_id
        """;
    private const string TokenColumns = "t.id AS Id, t.user_id AS UserId, t.name AS Name, t.prefix AS Prefix, t.scopes AS Scopes, t.created_at AS CreatedAt, t.expires_at AS ExpiresAt, t.last_used_at AS LastUsedAt";

    public Task<(NameClaimOutcome Outcome, UserAccount? User)> CreateUserAsync(string name, string? email, string passwordHash, bool admin, CancellationToken cancellationToken) =>
        connections.WriteAsync<(NameClaimOutcome, UserAccount?)>(async (connection, transaction) =>
        {
            var now = Now();
            if (await IsClaimedAsync(connection, transaction, name, cancellationToken)) return (NameClaimOutcome.Taken, null);
            if (await NamespaceHasRepositoriesAsync(connection, transaction, name, cancellationToken)) return (NameClaimOutcome.NamespaceInUse, null);
            if (!await ClaimNameAsync(connection, transaction, name, "user", now, cancellationToken)) return (NameClaimOutcome.Taken, null);
            // The first user of an instance is its administrator: decided inside the write transaction.
            var isAdmin = admin || await connection.ExecuteScalarAsync<long>(Command("SELECT COUNT(*) FROM users", null, transaction, cancellationToken)) == 0;
            var id = await connection.ExecuteScalarAsync<long>(Command(
                "INSERT INTO users (name, email, password_hash, is_admin, created_at) VALUES (@name, @email, @passwordHash, @isAdmin, @now) RETURNING id",
                new { name, email, passwordHash, isAdmin = isAdmin ? 1 : 0, now }, transaction, cancellationToken));
            return (NameClaimOutcome.Created, new UserAccount(id, name, email, passwordHash, isAdmin, Time(now)));
        }, cancellationToken);

    public async Task<long> CountUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(Command("SELECT COUNT(*) FROM users", null, null, cancellationToken));
    }

    public async Task<UserAccount?> FindUserAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(Command($"SELECT {UserColumns} FROM users WHERE name = @name", new { name }, null, cancellationToken));
        return row?.ToModel();
    }

    public async Task<UserAccount?> FindUserByIdAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(Command($"SELECT {UserColumns} FROM users WHERE id = @id", new { id }, null, cancellationToken));
        return row?.ToModel();
    }

    public async Task<IReadOnlyList<UserAccount>> ListUsersAsync(string? afterName, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<UserRow>(Command(
            $"SELECT {UserColumns} FROM users WHERE (@afterName IS NULL OR name > @afterName) ORDER BY name LIMIT @limit",
            new { afterName, limit }, null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public Task<bool> SetPasswordHashAsync(long userId, string passwordHash, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command("UPDATE users SET password_hash = @passwordHash WHERE id = @userId", new { userId, passwordHash }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task<long?> ChangePasswordAsync(long userId, string passwordHash, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var version = await connection.ExecuteScalarAsync<long?>(Command(
                "UPDATE users SET password_hash = @passwordHash, credential_version = credential_version + 1 WHERE id = @userId RETURNING credential_version",
                new { userId, passwordHash }, transaction, cancellationToken));
            if (version is not null) await RevokeRefreshTokensAsync(connection, transaction, userId, cancellationToken);
            return version;
        }, cancellationToken);

    public Task<bool> SetDisabledAsync(long userId, bool disabled, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            if (!disabled)
            {
                return await connection.ExecuteAsync(Command("UPDATE users SET disabled_at = NULL WHERE id = @userId", new { userId }, transaction, cancellationToken)) > 0;
            }
            var changed = await connection.ExecuteAsync(Command(
                "UPDATE users SET disabled_at = COALESCE(disabled_at, @now), credential_version = credential_version + 1 WHERE id = @userId",
                new { userId, now = Now() }, transaction, cancellationToken)) > 0;
            if (changed) await RevokeRefreshTokensAsync(connection, transaction, userId, cancellationToken);
            return changed;
        }, cancellationToken);

    public Task<bool> SetAdminAsync(long userId, bool admin, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            if (admin)
            {
                return await connection.ExecuteAsync(Command("UPDATE users SET is_admin = 1 WHERE id = @userId", new { userId }, transaction, cancellationToken)) > 0;
            }
            var exists = await connection.ExecuteScalarAsync<long?>(Command("SELECT is_admin FROM users WHERE id = @userId", new { userId }, transaction, cancellationToken));
            if (exists is null) return false;
            if (exists == 0) return true;
            await connection.ExecuteAsync(Command(
                "UPDATE users SET is_admin = 0, credential_version = credential_version + 1 WHERE id = @userId", new { userId }, transaction, cancellationToken));
            await RevokeRefreshTokensAsync(connection, transaction, userId, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> SetLoginsUnlockedAsync(long userId, DateTimeOffset at, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command("UPDATE users SET logins_unlocked_at = @at WHERE id = @userId",
                new { userId, at = at.ToUnixTimeMilliseconds() }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task<UserDeletion?> DeleteUserAsync(long userId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var name = await connection.ExecuteScalarAsync<string?>(Command("SELECT name FROM users WHERE id = @userId", new { userId }, transaction, cancellationToken));
            if (name is null) return null;
            var repositories = await connection.ExecuteScalarAsync<long>(Command(
                "SELECT COUNT(*) FROM repositories WHERE namespace = @name", new { name }, transaction, cancellationToken));
            var orphaned = (await connection.QueryAsync<string>(Command(
                """
                SELECT o.name FROM organizations o JOIN organization_members m ON m.organization_id = o.id
                WHERE m.user_id = @userId AND m.role = 'owner'
                  AND NOT EXISTS (SELECT 1 FROM organization_members other
                                  WHERE other.organization_id = o.id AND other.role = 'owner' AND other.user_id <> @userId)
                ORDER BY o.name
                """, new { userId }, transaction, cancellationToken))).AsList();
            // Tokens, refresh tokens and memberships go with the user (ON DELETE CASCADE); the namespaces row stays,
            // so the name remains claimed and nobody signs up into the repositories left in it.
            await connection.ExecuteAsync(Command("DELETE FROM users WHERE id = @userId", new { userId }, transaction, cancellationToken));
            return new UserDeletion(name, repositories, orphaned);
        }, cancellationToken);

    public Task<AccessTokenInfo> CreateAccessTokenAsync(long userId, string name, string prefix, string tokenHash, TokenScopes scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var id = await connection.ExecuteScalarAsync<long>(Command(
                """
                INSERT INTO access_tokens (user_id, name, prefix, token_hash, scopes, created_at, expires_at)
                VALUES (@userId, @name, @prefix, @tokenHash, @scopes, @now, @expires) RETURNING id
                """,
                new { userId, name, prefix, tokenHash, scopes = FormatScopes(scopes), now, expires = expiresAt?.ToUnixTimeMilliseconds() },
                transaction, cancellationToken));
            return new AccessTokenInfo(id, userId, name, prefix, scopes, Time(now), expiresAt is null ? null : Time(expiresAt.Value.ToUnixTimeMilliseconds()), null);
        }, cancellationToken);

    public async Task<AccessTokenOwner?> FindAccessTokenAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var token = await connection.QuerySingleOrDefaultAsync<TokenRow>(Command(
            $"SELECT {TokenColumns} FROM access_tokens t WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL", new { tokenHash }, null, cancellationToken));
        if (token is null) return null;
        var user = await connection.QuerySingleOrDefaultAsync<UserRow>(Command($"SELECT {UserColumns} FROM users WHERE id = @UserId", new { token.UserId }, null, cancellationToken));
        return user is null ? null : new AccessTokenOwner(token.ToModel(), user.ToModel());
    }

    public async Task<IReadOnlyList<AccessTokenInfo>> ListAccessTokensAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<TokenRow>(Command(
            $"SELECT {TokenColumns} FROM access_tokens t WHERE t.user_id = @userId AND t.revoked_at IS NULL ORDER BY t.id", new { userId }, null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public Task<bool> RevokeAccessTokenAsync(long userId, long tokenId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var revoked = await connection.ExecuteAsync(Command(
                "UPDATE access_tokens SET revoked_at = @now WHERE id = @tokenId AND user_id = @userId AND revoked_at IS NULL",
                new { tokenId, userId, now }, transaction, cancellationToken)) > 0;
            // The sessions made with the token (docker login with it) end with it.
            await connection.ExecuteAsync(Command(
                "UPDATE refresh_tokens SET revoked_at = @now WHERE access_token_id = @tokenId AND revoked_at IS NULL",
                new { tokenId, now }, transaction, cancellationToken));
            return revoked;
        }, cancellationToken);

    public Task TouchAccessTokenAsync(long tokenId, DateTimeOffset at, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE access_tokens SET last_used_at = @at WHERE id = @tokenId", new { tokenId, at = at.ToUnixTimeMilliseconds() }, transaction, cancellationToken)),
            cancellationToken);

    public Task<RefreshTokenInfo> StoreRefreshTokenAsync(NewRefreshToken token, int maxPerUser, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            // Keep each user's table small: drop what can no longer be used, and the oldest beyond the cap.
            await connection.ExecuteAsync(Command(
                "DELETE FROM refresh_tokens WHERE user_id = @UserId AND (revoked_at IS NOT NULL OR expires_at <= @now OR credential_version <> @CredentialVersion)",
                new { token.UserId, now, token.CredentialVersion }, transaction, cancellationToken));
            await connection.ExecuteAsync(Command(
                """
                DELETE FROM refresh_tokens WHERE id IN (
                    SELECT id FROM refresh_tokens WHERE user_id = @UserId ORDER BY COALESCE(last_used_at, created_at) DESC, id DESC LIMIT -1 OFFSET @keep)
                """, new { token.UserId, keep = Math.Max(0, maxPerUser - 1) }, transaction, cancellationToken));
            var id = await connection.ExecuteScalarAsync<long>(Command(
                """
                INSERT INTO refresh_tokens (token_hash, user_id, access_token_id, scopes, credential_version, client_id, client_address, created_at, expires_at)
                VALUES (@TokenHash, @UserId, @AccessTokenId, @scopes, @CredentialVersion, @ClientId, @ClientAddress, @now, @expires)
                RETURNING id
                """,
                new
                {
                    token.TokenHash, token.UserId, token.AccessTokenId, scopes = FormatScopes(token.Scopes), token.CredentialVersion, token.ClientId,
                    token.ClientAddress, now, expires = token.ExpiresAt.ToUnixTimeMilliseconds(),
                }, transaction, cancellationToken));
            var tokenName = token.AccessTokenId is null ? null : await connection.ExecuteScalarAsync<string?>(Command(
                "SELECT name FROM access_tokens WHERE id = @AccessTokenId", new { token.AccessTokenId }, transaction, cancellationToken));
            return new RefreshTokenInfo(id, token.UserId, token.AccessTokenId, tokenName, token.Scopes, token.CredentialVersion, token.ClientId, token.ClientAddress,
                Time(now), Time(token.ExpiresAt.ToUnixTimeMilliseconds()), null);
        }, cancellationToken);

    public async Task<RefreshTokenOwner?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RefreshRow>(Command(
            $"{RefreshSelect} WHERE r.token_hash = @tokenHash AND r.revoked_at IS NULL", new { tokenHash }, null, cancellationToken));
        if (row is null) return null;
        var user = await connection.QuerySingleOrDefaultAsync<UserRow>(Command($"SELECT {UserColumns} FROM users WHERE id = @UserId", new { row.UserId }, null, cancellationToken));
        return user is null ? null : new RefreshTokenOwner(row.ToModel(), user.ToModel(), row.CredentialAlive);
    }

    public async Task<IReadOnlyList<RefreshTokenInfo>> ListRefreshTokensAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RefreshRow>(Command(
            $"""
            {RefreshSelect}
            JOIN users u ON u.id = r.user_id
            WHERE r.user_id = @userId AND r.revoked_at IS NULL AND r.credential_version = u.credential_version
              AND (r.access_token_id IS NULL OR t.revoked_at IS NULL)
              AND min(r.expires_at, COALESCE(t.expires_at, r.expires_at)) > @now
            ORDER BY r.id
            """, new { userId, now = Now() }, null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public Task<bool> RevokeRefreshTokenAsync(long userId, long refreshTokenId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE refresh_tokens SET revoked_at = @now WHERE id = @refreshTokenId AND user_id = @userId AND revoked_at IS NULL",
                new { refreshTokenId, userId, now = Now() }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task TouchRefreshTokenAsync(long refreshTokenId, DateTimeOffset at, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE refresh_tokens SET last_used_at = @at WHERE id = @refreshTokenId", new { refreshTokenId, at = at.ToUnixTimeMilliseconds() }, transaction, cancellationToken)),
            cancellationToken);

    private Task<int> RevokeRefreshTokensAsync(SqliteConnection connection, SqliteTransaction transaction, long userId, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(Command(
            "UPDATE refresh_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now = Now() }, transaction, cancellationToken));

    public Task<(NameClaimOutcome Outcome, Organization? Organization)> CreateOrganizationAsync(string name, long ownerId, bool mayAdoptNamespace, CancellationToken cancellationToken) =>
        connections.WriteAsync<(NameClaimOutcome, Organization?)>(async (connection, transaction) =>
        {
            var now = Now();
            if (await IsClaimedAsync(connection, transaction, name, cancellationToken))
            {
                // A name left claimed by a deleted user has no account: an administrator may give it to an organization.
                var ownerless = await connection.ExecuteScalarAsync<long>(Command(
                    """
                    SELECT NOT EXISTS (SELECT 1 FROM users WHERE name = @name) AND NOT EXISTS (SELECT 1 FROM organizations WHERE name = @name)
                    """, new { name }, transaction, cancellationToken)) != 0;
                if (!ownerless || !mayAdoptNamespace) return (NameClaimOutcome.Taken, null);
                await connection.ExecuteAsync(Command("UPDATE namespaces SET kind = 'org' WHERE name = @name", new { name }, transaction, cancellationToken));
            }
            else
            {
                if (!mayAdoptNamespace && await NamespaceHasRepositoriesAsync(connection, transaction, name, cancellationToken)) return (NameClaimOutcome.NamespaceInUse, null);
                if (!await ClaimNameAsync(connection, transaction, name, "org", now, cancellationToken)) return (NameClaimOutcome.Taken, null);
            }
            var id = await connection.ExecuteScalarAsync<long>(Command(
                "INSERT INTO organizations (name, created_at) VALUES (@name, @now) RETURNING id", new { name, now }, transaction, cancellationToken));
            await connection.ExecuteAsync(Command(
                "INSERT INTO organization_members (organization_id, user_id, role, added_at) VALUES (@id, @ownerId, 'owner', @now)",
                new { id, ownerId, now }, transaction, cancellationToken));
            return (NameClaimOutcome.Created, new Organization(id, name, Time(now)));
        }, cancellationToken);

    public async Task<Organization?> FindOrganizationAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<OrgRow>(Command(
            "SELECT id AS Id, name AS Name, created_at AS CreatedAt FROM organizations WHERE name = @name", new { name }, null, cancellationToken));
        return row is null ? null : new Organization(row.Id, row.Name, Time(row.CreatedAt));
    }

    public async Task<IReadOnlyList<OrganizationMember>> ListMembersAsync(long organizationId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<MemberRow>(Command(
            """
            SELECT u.name AS Username, m.role AS Role, m.added_at AS AddedAt
            FROM organization_members m JOIN users u ON u.id = m.user_id
            WHERE m.organization_id = @organizationId ORDER BY u.name
            """, new { organizationId }, null, cancellationToken));
        return rows.Select(r => new OrganizationMember(r.Username, ParseRole(r.Role), Time(r.AddedAt))).ToList();
    }

    public Task SetMemberAsync(long organizationId, long userId, OrganizationRole role, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO organization_members (organization_id, user_id, role, added_at) VALUES (@organizationId, @userId, @role, @now)
                ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role
                """, new { organizationId, userId, role = AccountText.Format(role), now = Now() }, transaction, cancellationToken)),
            cancellationToken);

    public Task<bool> RemoveMemberAsync(long organizationId, long userId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "DELETE FROM organization_members WHERE organization_id = @organizationId AND user_id = @userId",
                new { organizationId, userId }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public async Task<IReadOnlyDictionary<string, OrganizationRole>> GetMembershipsAsync(string username, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Name, string Role)>(Command(
            """
            SELECT o.name, m.role FROM organization_members m
            JOIN organizations o ON o.id = m.organization_id
            JOIN users u ON u.id = m.user_id
            WHERE u.name = @username
            """, new { username }, null, cancellationToken));
        return rows.ToDictionary(r => r.Name, r => ParseRole(r.Role), StringComparer.Ordinal);
    }

    public async Task<(bool Exists, RepositoryVisibility? Visibility)> GetVisibilityAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<string?>(Command(
            "SELECT visibility FROM repositories WHERE name = @repository", new { repository }, null, cancellationToken))).AsList();
        if (rows.Count == 0) return (false, null);
        return (true, AccountText.TryParseVisibility(rows[0], out var v) ? v : null);
    }

    public Task<bool> SetVisibilityAsync(string repository, RepositoryVisibility visibility, Wharf.Core.Events.RegistryChange? change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var changed = await connection.ExecuteAsync(Command(
                // A change of visibility is a change of the repository: updated_at moves (not when it stays the same).
                """
                UPDATE repositories SET updated_at = CASE WHEN visibility IS @visibility THEN updated_at ELSE @now END,
                                        visibility = @visibility
                WHERE name = @repository
                """,
                new { repository, visibility = AccountText.Format(visibility), now = Now() }, transaction, cancellationToken));
            if (changed > 0) await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return changed > 0;
        }, cancellationToken);

    public Task SetVisibilityIfUnsetAsync(string repository, RepositoryVisibility visibility, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE repositories SET visibility = @visibility WHERE name = @repository AND visibility IS NULL",
                new { repository, visibility = AccountText.Format(visibility) }, transaction, cancellationToken)),
            cancellationToken);

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO audit_events (at, actor, client_address, action, target, success, detail)
                VALUES (@at, @Actor, @ClientAddress, @Action, @Target, @success, @Detail)
                """,
                new { at = Now(), entry.Actor, entry.ClientAddress, entry.Action, entry.Target, success = entry.Success ? 1 : 0, entry.Detail },
                transaction, cancellationToken)),
            cancellationToken);

    public async Task<IReadOnlyList<AuditEvent>> ListAsync(long? beforeId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<AuditRow>(Command(
            """
            SELECT id AS Id, at AS At, actor AS Actor, client_address AS ClientAddress, action AS Action, target AS Target, success AS Success, detail AS Detail
            FROM audit_events WHERE (@beforeId IS NULL OR id < @beforeId) ORDER BY id DESC LIMIT @limit
            """, new { beforeId, limit }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    private static async Task<bool> IsClaimedAsync(SqliteConnection connection, SqliteTransaction transaction, string name, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(Command("SELECT EXISTS (SELECT 1 FROM namespaces WHERE name = @name)", new { name }, transaction, cancellationToken)) != 0;

    private static async Task<bool> NamespaceHasRepositoriesAsync(SqliteConnection connection, SqliteTransaction transaction, string name, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(Command("SELECT EXISTS (SELECT 1 FROM repositories WHERE namespace = @name)", new { name }, transaction, cancellationToken)) != 0;

    private static async Task<bool> ClaimNameAsync(SqliteConnection connection, SqliteTransaction transaction, string name, string kind, long now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(Command(
            "INSERT INTO namespaces (name, kind, created_at) VALUES (@name, @kind, @now) ON CONFLICT (name) DO NOTHING",
            new { name, kind, now }, transaction, cancellationToken)) > 0;

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
