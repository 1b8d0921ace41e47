using Dapper;
using Wharf.Core.Builds;
using static Wharf.Data.PostgreSql.PostgreSqlText;

namespace Wharf.Data.PostgreSql;

/// <summary><see cref="IRegistryCredentialStore"/> on PostgreSQL; the secret column holds ciphertext only.</summary>
public sealed class PostgreSqlRegistryCredentialStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : IRegistryCredentialStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public Task<StoredRegistryCredential> UpsertAsync(string? owner, string host, string username, string protectedSecret, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var id = await connection.ExecuteScalarAsync<Guid>(new CommandDefinition(
                """
                INSERT INTO registry_credentials (id, owner, host, username, secret, created_at)
                VALUES (@id, @owner, @host, @username, @secret, @now)
                ON CONFLICT (owner, host) DO UPDATE SET username = excluded.username, secret = excluded.secret, created_at = excluded.created_at
                RETURNING id
                """, new { id = Guid.NewGuid(), owner = owner ?? "", host = Clean(host), username = Clean(username), secret = protectedSecret, now },
                transaction, cancellationToken: cancellationToken));
            return new StoredRegistryCredential(id, owner, host, username, DateTimeOffset.FromUnixTimeMilliseconds(now));
        }, cancellationToken);

    public async Task<IReadOnlyList<StoredRegistryCredential>> ListAsync(string? owner, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(Guid id, string host, string username, long created_at)>(new CommandDefinition(
            "SELECT id, host, username, created_at FROM registry_credentials WHERE owner = @owner ORDER BY host",
            new { owner = owner ?? "" }, cancellationToken: cancellationToken));
        return rows.Select(r => new StoredRegistryCredential(r.id, owner, r.host, r.username, DateTimeOffset.FromUnixTimeMilliseconds(r.created_at))).ToList();
    }

    public Task<bool> DeleteAsync(string? owner, Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM registry_credentials WHERE id = @id AND owner = @owner",
            new { id, owner = owner ?? "" }, transaction, cancellationToken: cancellationToken)) > 0, cancellationToken);

    public async Task<(StoredRegistryCredential Credential, string ProtectedSecret)?> FindAsync(string? owner, Guid? id, string host, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var sql = id is null
            ? "SELECT id, host, username, secret, created_at FROM registry_credentials WHERE owner = @owner AND host = @host"
            : "SELECT id, host, username, secret, created_at FROM registry_credentials WHERE owner = @owner AND id = @id";
        var row = await connection.QuerySingleOrDefaultAsync<(Guid id, string host, string username, string secret, long created_at)?>(new CommandDefinition(
            sql, new { owner = owner ?? "", host = Clean(host), id }, cancellationToken: cancellationToken));
        if (row is not { } r) return null;
        return (new StoredRegistryCredential(r.id, owner, r.host, r.username, DateTimeOffset.FromUnixTimeMilliseconds(r.created_at)), r.secret);
    }
}
