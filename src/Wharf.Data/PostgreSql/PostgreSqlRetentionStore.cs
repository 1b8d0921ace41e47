using Dapper;
using Npgsql;
using Wharf.Core.Events;
using Wharf.Core.Policies;
using Wharf.Core.Retention;

namespace Wharf.Data.PostgreSql;

/// <summary><see cref="IRetentionStore"/> on PostgreSQL: the rules are columns of the repository; a tag delete is one statement that re-checks the tag (row locks order it against a push of the same tag).</summary>
public sealed class PostgreSqlRetentionStore(PostgreSqlConnections connections) : IRetentionStore
{
    private const string HasRules = "(retention_keep_last IS NOT NULL OR retention_keep_pulled_days IS NOT NULL OR retention_keep_matching IS NOT NULL)";

    private const string Columns = """
        name AS Name, retention_keep_last AS KeepLast, retention_keep_pulled_days AS KeepPulledDays,
        retention_keep_matching AS KeepMatching, immutable_tags AS ImmutableTags
        """;

    public async Task<RetentionPolicy?> GetAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RetentionRow>(Command(
            $"SELECT {Columns} FROM repositories WHERE name = @repository", new { repository }, null, cancellationToken));
        return row?.ToPolicy();
    }

    public Task<bool> SetAsync(string repository, RetentionPolicy policy, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(Command("""
            UPDATE repositories SET retention_keep_last = @KeepLast, retention_keep_pulled_days = @KeepPulledWithinDays,
                retention_keep_matching = @KeepTagsMatching
            WHERE name = @repository
            """, new { repository, policy.KeepLast, policy.KeepPulledWithinDays, KeepTagsMatching = PostgreSqlText.Clean(policy.KeepTagsMatching) }, transaction, cancellationToken)) == 1,
            cancellationToken);

    public async Task<IReadOnlyList<RepositoryRetention>> ListAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RetentionRow>(Command(
            $"SELECT {Columns} FROM repositories WHERE {HasRules} AND name > @after ORDER BY name LIMIT @limit",
            new { after = after ?? "", limit }, null, cancellationToken));
        return [.. rows.Select(r => new RepositoryRetention(r.Name, r.ToPolicy(), ImmutableTagRules.FromStored(r.ImmutableTags)))];
    }

    public async Task<IReadOnlyList<RetainedTag>> ListTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RetainedTagRow>(Command("""
            SELECT t.name AS Name, m.digest AS Digest, t.updated_at AS UpdatedAt, t.last_pulled_at AS LastPulledAt
            FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id
            WHERE r.name = @repository
            """, new { repository }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public Task<bool> TryDeleteTagAsync(string repository, RetainedTag tag, RegistryChange change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var removed = await connection.ExecuteAsync(Command("""
                DELETE FROM tags
                WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND name = @tag
                  AND manifest_id = (SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = @repository AND m.digest = @digest)
                  AND updated_at = @pushedAt AND COALESCE(last_pulled_at, 0) <= @pulledAt
                """, new
                {
                    repository, tag = tag.Tag, digest = tag.Digest.ToString(), pushedAt = tag.PushedAt.ToUnixTimeMilliseconds(),
                    pulledAt = tag.LastPulledAt?.ToUnixTimeMilliseconds() ?? 0,
                }, transaction, cancellationToken));
            if (removed == 0) return false;
            await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return true;
        }, cancellationToken);

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
