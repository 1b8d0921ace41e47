using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Accounts;

namespace Wharf.Data.Sqlite;

/// <summary><see cref="IAccountStore"/> and <see cref="IAuditLog"/> on SQLite (migration 0002_accounts).</summary>
public sealed class SqliteAccountStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null) : IAccountStore, IAuditLog
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    private const string UserColumns = "id AS Id, name AS Name, email AS Email, password_hash AS PasswordHash, is_admin AS IsAdmin, created_at AS CreatedAt";
    private const string TokenColumns = "t.id AS Id, t.user_id AS UserId, t.name AS Name, t.prefix AS Prefix, t.scopes AS Scopes, t.created_at AS CreatedAt, t.expires_at AS ExpiresAt, t.last_used_at AS LastUsedAt";

    public Task<UserAccount?> CreateUserAsync(string name, string? email, string passwordHash, bool admin, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            if (!await ClaimNameAsync(connection, transaction, name, "user", now, cancellationToken)) return null;
            // The first user of an instance is its administrator: decided inside the write transaction.
            var isAdmin = admin || await connection.ExecuteScalarAsync<long>(Command("SELECT COUNT(*) FROM users", null, transaction, cancellationToken)) == 0;
            var id = await connection.ExecuteScalarAsync<long>(Command(
                "INSERT INTO users (name, email, password_hash, is_admin, created_at) VALUES (@name, @email, @passwordHash, @isAdmin, @now) RETURNING id",
                new { name, email, passwordHash, isAdmin = isAdmin ? 1 : 0, now }, transaction, cancellationToken));
            return (UserAccount?)new UserAccount(id, name, email, passwordHash, isAdmin, FromMs(now));
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

    public Task<bool> SetPasswordHashAsync(long userId, string passwordHash, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command("UPDATE users SET password_hash = @passwordHash WHERE id = @userId", new { userId, passwordHash }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task<AccessTokenInfo> CreateAccessTokenAsync(long userId, string name, string prefix, string tokenHash, TokenScopes scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var id = await connection.ExecuteScalarAsync<long>(Command(
                """
                INSERT INTO access_tokens (user_id, name, prefix, token_hash, scopes, created_at, expires_at)
                VALUES (@userId, @name, @prefix, @tokenHash, @scopes, @now, @expires) RETURNING id
                """,
                new { userId, name, prefix, tokenHash, scopes = string.Join(',', AccountText.Format(scopes)), now, expires = expiresAt?.ToUnixTimeMilliseconds() },
                transaction, cancellationToken));
            return new AccessTokenInfo(id, userId, name, prefix, scopes, FromMs(now), expiresAt is null ? null : FromMs(expiresAt.Value.ToUnixTimeMilliseconds()), null);
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
            await connection.ExecuteAsync(Command(
                "UPDATE access_tokens SET revoked_at = @now WHERE id = @tokenId AND user_id = @userId AND revoked_at IS NULL",
                new { tokenId, userId, now = Now() }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task TouchAccessTokenAsync(long tokenId, DateTimeOffset at, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE access_tokens SET last_used_at = @at WHERE id = @tokenId", new { tokenId, at = at.ToUnixTimeMilliseconds() }, transaction, cancellationToken)),
            cancellationToken);

    public Task StoreRefreshTokenAsync(string tokenHash, long userId, string clientId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "INSERT INTO refresh_tokens (token_hash, user_id, client_id, created_at, expires_at) VALUES (@tokenHash, @userId, @clientId, @now, @expires)",
                new { tokenHash, userId, clientId, now = Now(), expires = expiresAt.ToUnixTimeMilliseconds() }, transaction, cancellationToken)),
            cancellationToken);

    public async Task<RefreshTokenInfo?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RefreshRow>(Command(
            "SELECT user_id AS UserId, client_id AS ClientId, expires_at AS ExpiresAt FROM refresh_tokens WHERE token_hash = @tokenHash AND revoked_at IS NULL",
            new { tokenHash }, null, cancellationToken));
        return row is null ? null : new RefreshTokenInfo(row.UserId, row.ClientId, FromMs(row.ExpiresAt));
    }

    public Task RevokeRefreshTokensAsync(long userId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "UPDATE refresh_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now = Now() }, transaction, cancellationToken)),
            cancellationToken);

    public Task<Organization?> CreateOrganizationAsync(string name, long ownerId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            if (!await ClaimNameAsync(connection, transaction, name, "org", now, cancellationToken)) return null;
            var id = await connection.ExecuteScalarAsync<long>(Command(
                "INSERT INTO organizations (name, created_at) VALUES (@name, @now) RETURNING id", new { name, now }, transaction, cancellationToken));
            await connection.ExecuteAsync(Command(
                "INSERT INTO organization_members (organization_id, user_id, role, added_at) VALUES (@id, @ownerId, 'owner', @now)",
                new { id, ownerId, now }, transaction, cancellationToken));
            return (Organization?)new Organization(id, name, FromMs(now));
        }, cancellationToken);

    public async Task<Organization?> FindOrganizationAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<OrgRow>(Command(
            "SELECT id AS Id, name AS Name, created_at AS CreatedAt FROM organizations WHERE name = @name", new { name }, null, cancellationToken));
        return row is null ? null : new Organization(row.Id, row.Name, FromMs(row.CreatedAt));
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
        return rows.Select(r => new OrganizationMember(r.Username, ParseRole(r.Role), FromMs(r.AddedAt))).ToList();
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

    public Task<bool> SetVisibilityAsync(string repository, RepositoryVisibility visibility, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                // A change of visibility is a change of the repository: updated_at moves (not when it stays the same).
                """
                UPDATE repositories SET updated_at = CASE WHEN visibility IS @visibility THEN updated_at ELSE @now END,
                                        visibility = @visibility
                WHERE name = @repository
                """,
                new { repository, visibility = AccountText.Format(visibility), now = Now() }, transaction, cancellationToken)) > 0,
            cancellationToken);

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
        return rows.Select(r => new AuditEvent(r.Id, FromMs(r.At), r.Actor, r.ClientAddress, r.Action, r.Target, r.Success != 0, r.Detail)).ToList();
    }

    private static async Task<bool> ClaimNameAsync(SqliteConnection connection, SqliteTransaction transaction, string name, string kind, long now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(Command(
            "INSERT INTO namespaces (name, kind, created_at) VALUES (@name, @kind, @now) ON CONFLICT (name) DO NOTHING",
            new { name, kind, now }, transaction, cancellationToken)) > 0;

    private static OrganizationRole ParseRole(string text) => AccountText.TryParseRole(text, out var role) ? role : OrganizationRole.Reader;

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    private static TokenScopes ParseScopes(string text)
    {
        var scopes = TokenScopes.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (AccountText.TryParseScope(part, out var s)) scopes |= s;
        }
        return scopes;
    }

    private sealed class UserRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public string? Email { get; set; }
        public string PasswordHash { get; set; } = "";
        public long IsAdmin { get; set; }
        public long CreatedAt { get; set; }

        public UserAccount ToModel() => new(Id, Name, Email, PasswordHash, IsAdmin != 0, FromMs(CreatedAt));
    }

    private sealed class TokenRow
    {
        public long Id { get; set; }
        public long UserId { get; set; }
        public string Name { get; set; } = "";
        public string Prefix { get; set; } = "";
        public string Scopes { get; set; } = "";
        public long CreatedAt { get; set; }
        public long? ExpiresAt { get; set; }
        public long? LastUsedAt { get; set; }

        public AccessTokenInfo ToModel() => new(Id, UserId, Name, Prefix, ParseScopes(Scopes), FromMs(CreatedAt),
            ExpiresAt is null ? null : FromMs(ExpiresAt.Value), LastUsedAt is null ? null : FromMs(LastUsedAt.Value));
    }

    private sealed class RefreshRow
    {
        public long UserId { get; set; }
        public string ClientId { get; set; } = "";
        public long ExpiresAt { get; set; }
    }

    private sealed class OrgRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public long CreatedAt { get; set; }
    }

    private sealed class MemberRow
    {
        public string Username { get; set; } = "";
        public string Role { get; set; } = "";
        public long AddedAt { get; set; }
    }

    private sealed class AuditRow
    {
        public long Id { get; set; }
        public long At { get; set; }
        public string? Actor { get; set; }
        public string? ClientAddress { get; set; }
        public string Action { get; set; } = "";
        public string? Target { get; set; }
        public long Success { get; set; }
        public string? Detail { get; set; }
    }
}
