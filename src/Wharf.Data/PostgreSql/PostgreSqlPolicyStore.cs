using Dapper;
using Npgsql;
using Wharf.Core.Manifests;
using Wharf.Core.Policies;
using Wharf.Core.Registry;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IPolicyStore"/> on PostgreSQL, and the checks a manifest push makes inside its transaction. Pushes run in
/// parallel here, so a push into a namespace with a quota takes the namespace's transaction advisory lock first: the
/// next push of that namespace waits, then sees this one's blobs in its usage.
/// </summary>
public sealed class PostgreSqlPolicyStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : IPolicyStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>The distinct blobs the namespace's manifests reference (@ns, @prefix = ns + "/").</summary>
    private const string UsedBlobs = """
        WITH used AS (
            SELECT DISTINCT mr.digest FROM manifest_references mr
            JOIN manifests m ON m.id = mr.manifest_id
            JOIN repositories r ON r.id = m.repository_id
            WHERE mr.kind = 'blob' AND (r.name = @ns OR starts_with(r.name, @prefix))
        )
        """;

    public async Task<IReadOnlyList<string>?> GetImmutableTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<StoredPatterns>(Command(
            "SELECT immutable_tags AS Patterns FROM repositories WHERE name = @repository", new { repository }, null, cancellationToken));
        return row is null ? null : ImmutableTagRules.FromStored(row.Patterns);
    }

    public Task<bool> SetImmutableTagsAsync(string repository, IReadOnlyList<string> patterns, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(Command(
            "UPDATE repositories SET immutable_tags = @patterns WHERE name = @repository",
            new { repository, patterns = PostgreSqlText.Clean(ImmutableTagRules.ToStored(patterns)) }, transaction, cancellationToken)) == 1, cancellationToken);

    public Task SetQuotaAsync(string @namespace, long? bytes, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command(bytes is null
                ? "DELETE FROM namespace_quotas WHERE namespace = @ns"
                : "INSERT INTO namespace_quotas (namespace, bytes, updated_at) VALUES (@ns, @bytes, @now) ON CONFLICT (namespace) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at",
            new { ns = @namespace, bytes, now = _time.GetUtcNow().ToUnixTimeMilliseconds() }, transaction, cancellationToken)), cancellationToken);

    public async Task<NamespaceUsage> GetUsageAsync(string @namespace, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<UsageRow>(Command(UsedBlobs + """
            SELECT (SELECT bytes FROM namespace_quotas WHERE namespace = @ns) AS Quota,
                   (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN (SELECT digest FROM used))::bigint AS Used,
                   (SELECT COUNT(*) FROM used)::bigint AS Blobs,
                   (SELECT COUNT(*) FROM repositories r WHERE r.name = @ns OR starts_with(r.name, @prefix))::bigint AS Repositories
            """, new { ns = @namespace, prefix = @namespace + "/" }, null, cancellationToken));
        return new NamespaceUsage(@namespace, row.Quota, row.Used, row.Blobs, row.Repositories);
    }

    public async Task<IReadOnlyList<NamespaceUsage>> ListUsageAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<NamespaceUsageRow>(Command("""
            WITH used AS (
                SELECT DISTINCT split_part(r.name, '/', 1) AS ns, mr.digest
                FROM manifest_references mr
                JOIN manifests m ON m.id = mr.manifest_id
                JOIN repositories r ON r.id = m.repository_id
                WHERE mr.kind = 'blob'
            ),
            repos AS (
                SELECT split_part(r.name, '/', 1) AS ns, COUNT(*) AS n FROM repositories r GROUP BY 1
            )
            SELECT u.ns AS Namespace, q.bytes AS Quota, COALESCE(SUM(b.size), 0)::bigint AS Used, COUNT(*)::bigint AS Blobs,
                   COALESCE(MAX(p.n), 0)::bigint AS Repositories
            FROM used u
            JOIN blobs b ON b.digest = u.digest
            LEFT JOIN namespace_quotas q ON q.namespace = u.ns
            LEFT JOIN repos p ON p.ns = u.ns
            GROUP BY u.ns, q.bytes
            ORDER BY Used DESC, u.ns
            LIMIT @limit
            """, new { limit }, null, cancellationToken));
        return [.. rows.Select(r => new NamespaceUsage(r.Namespace, r.Quota, r.Used, r.Blobs, r.Repositories))];
    }

    public async Task<StorageTotals> GetStorageTotalsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<StorageTotalsRow>(Command("""
            SELECT COUNT(*)::bigint AS Blobs, COALESCE(SUM(b.size), 0)::bigint AS Bytes FROM blobs b
            WHERE b.state = 'live' AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
            """, null, null, cancellationToken));
        return new StorageTotals(row.Blobs, row.Bytes);
    }

    /// <summary>
    /// Inside a manifest push's transaction: an immutable tag it would move, or the quota its new blobs would pass, refuses
    /// it. Null: the push may go on.
    /// </summary>
    internal static async Task<PutManifestResult?> RefusalAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string repository, long? repositoryId, string digest, ParsedManifest manifest,
        IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        if (repositoryId is not null && tags.Count > 0)
        {
            var stored = await connection.ExecuteScalarAsync<string?>(Command(
                "SELECT immutable_tags FROM repositories WHERE id = @repositoryId", new { repositoryId }, transaction, cancellationToken));
            var patterns = ImmutableTagRules.FromStored(stored);
            if (patterns.Count > 0)
            {
                var moving = await connection.QueryAsync<string>(Command("""
                    SELECT t.name FROM tags t JOIN manifests m ON m.id = t.manifest_id
                    WHERE t.repository_id = @repositoryId AND t.name = ANY(@tags) AND m.digest <> @digest ORDER BY t.name
                    """, new { repositoryId, tags = tags.ToArray(), digest }, transaction, cancellationToken));
                foreach (var tag in moving)
                {
                    if (ImmutableTagRules.MatchingRule(patterns, tag) is { } rule) return PutManifestResult.Immutable(tag, rule);
                }
            }
        }
        var ns = RepositoryNamespace(repository);
        var quota = await connection.ExecuteScalarAsync<long?>(Command(
            "SELECT bytes FROM namespace_quotas WHERE namespace = @ns", new { ns }, transaction, cancellationToken));
        if (quota is null) return null;
        await connection.ExecuteAsync(Command(
            "SELECT pg_advisory_xact_lock(hashtextextended('wharf.quota:' || @ns, 0))", new { ns }, transaction, cancellationToken));
        var blobs = StoredText.RequiredBlobDigests(manifest);
        if (blobs.Length == 0) return null;
        var row = await connection.QuerySingleAsync<NeedRow>(Command(UsedBlobs + """
            SELECT (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN (SELECT digest FROM used))::bigint AS Used,
                   (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest = ANY(@blobs) AND b.digest NOT IN (SELECT digest FROM used))::bigint AS Needed
            """, new { ns, prefix = ns + "/", blobs }, transaction, cancellationToken));
        return row.Needed > 0 && row.Used + row.Needed > quota ? PutManifestResult.OverQuota(quota.Value, row.Used, row.Needed) : null;
    }

    /// <summary>The namespace a repository belongs to: its first path component.</summary>
    internal static string RepositoryNamespace(string repository) => Sqlite.SqlitePolicyStore.RepositoryNamespace(repository);

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
