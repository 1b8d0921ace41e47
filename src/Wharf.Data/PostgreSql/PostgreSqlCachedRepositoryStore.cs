using Dapper;
using Wharf.Core.Proxy;

namespace Wharf.Data.PostgreSql;

/// <summary><see cref="ICachedRepositoryStore"/> on PostgreSQL (table <c>cached_repositories</c>, migration 0090).</summary>
public sealed class PostgreSqlCachedRepositoryStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : ICachedRepositoryStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public Task MarkCachedAsync(string repository, string upstream, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(upstream);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var id = await PostgreSqlRegistryStore.EnsureRepositoryIdAsync(connection, transaction, repository, now, cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO cached_repositories (repository_id, upstream, created_at) VALUES (@id, @upstream, @now)
                ON CONFLICT (repository_id) DO UPDATE SET upstream = excluded.upstream WHERE cached_repositories.upstream <> excluded.upstream
                """, new { id, upstream, now }, transaction, cancellationToken: cancellationToken));
            return true;
        }, cancellationToken);
    }

    public async Task<string?> GetUpstreamAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT c.upstream FROM cached_repositories c JOIN repositories r ON r.id = c.repository_id WHERE r.name = @repository",
            new { repository }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyDictionary<string, string>> GetUpstreamsAsync(IReadOnlyCollection<string> repositories, CancellationToken cancellationToken)
    {
        if (repositories.Count == 0) return new Dictionary<string, string>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string name, string upstream)>(new CommandDefinition(
            "SELECT r.name, c.upstream FROM cached_repositories c JOIN repositories r ON r.id = c.repository_id WHERE r.name = ANY(@names)",
            new { names = repositories.Distinct(StringComparer.Ordinal).ToArray() }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.name, r => r.upstream, StringComparer.Ordinal);
    }
}
