using Dapper;
using Npgsql;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Gc;
using Wharf.Core.Retention;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IGcStore"/> on PostgreSQL. Writers run in parallel, so a page's compare-and-swap takes the row locks that
/// order it against the racing paths: the blob rows (<c>FOR UPDATE</c>; a link holds one through its upsert), then the
/// blobs' links (a manifest push holds <c>FOR KEY SHARE</c> on the links it checked); only then, in a new statement that
/// sees what committed before, does it check that nothing references the blobs. A row or link held by a push in progress
/// is skipped (<c>SKIP LOCKED</c>), not waited for: the push wins, and the collector never holds a page's locks while it
/// waits, so it cannot deadlock with a push nor make one wait for more than a few statements. The collector lock is a
/// session advisory lock ("WHARFGC"), released when its connection ends, so a collector that dies frees it.
/// </summary>
public sealed class PostgreSqlGcStore(PostgreSqlConnections connections) : IGcStore
{
    /// <summary>The advisory lock key of the collector ("WHARFGC\0" as a big-endian 64-bit number).</summary>
    public const long CollectorLockKey = 0x5748_4152_4647_4300;

    /// <summary>The tags a dry run assumes deleted, as a table: they keep nothing.</summary>
    private const string AssumedTable = """
        assumed(repository_id, name) AS (
            SELECT r.id, a.name FROM unnest(@assumedRepositories::text[], @assumedTags::text[]) AS a (repository, name)
            JOIN repositories r ON r.name = a.repository
        ),
        """;

    private const string NotAssumed = " AND NOT EXISTS (SELECT 1 FROM assumed a WHERE a.repository_id = t.repository_id AND a.name = t.name)";

    /// <summary>
    /// The manifests kept (as on SQLite). With <paramref name="assumingDeleted"/>, the tags named by the arrays
    /// <c>@assumedRepositories</c> and <c>@assumedTags</c> keep nothing.
    /// </summary>
    private static string KeptManifests(bool assumingDeleted) => $"""
        WITH RECURSIVE {(assumingDeleted ? AssumedTable : "")}
        kept(id) AS (
            SELECT m.id FROM manifests m
            WHERE m.pushed_at > @cutoff
               OR EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id{(assumingDeleted ? NotAssumed : "")})
               OR (@keepUntagged AND m.subject_digest IS NULL)
            UNION
            SELECT c.id FROM kept k
            JOIN manifests p ON p.id = k.id
            CROSS JOIN LATERAL (
                SELECT c.id FROM manifest_references mr
                JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = mr.digest
                WHERE mr.manifest_id = p.id AND mr.kind = 'manifest'
                UNION ALL
                SELECT s.id FROM manifests s WHERE s.repository_id = p.repository_id AND s.subject_digest = p.digest
            ) c
        )
        """;

    private static string[] AssumedRepositories(IReadOnlyCollection<ExpiredTag>? tags) => tags is null ? [] : [.. tags.Select(t => t.Repository)];

    private static string[] AssumedTags(IReadOnlyCollection<ExpiredTag>? tags) => tags is null ? [] : [.. tags.Select(t => t.Tag)];

    private const string Unreferenced = """
        NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.digest = b.digest AND mr.kind = 'blob')
        AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
        """;

    public async Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken)
    {
        var connection = await connections.OpenAsync(cancellationToken);
        try
        {
            if (await connection.ExecuteScalarAsync<bool>(Command("SELECT pg_try_advisory_lock(@key)", new { key = CollectorLockKey }, null, cancellationToken)))
            {
                return new SessionLock(connection);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    public async Task<IReadOnlyList<GcBlob>> ListDeletingBlobsAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<BlobRow>(Command(
            "SELECT digest AS Digest, size AS Size FROM blobs WHERE state = 'deleting' AND digest > @after ORDER BY digest LIMIT @limit",
            new { after = after ?? "", limit }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public async Task<IReadOnlyList<GcBlob>> ListUnreferencedBlobsAsync(
        DateTimeOffset linkedBefore, bool ignoringUnkeptManifests, bool deleteUntagged, IReadOnlyCollection<ExpiredTag>? assumingDeleted, string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var assuming = assumingDeleted is { Count: > 0 };
        var sql = ignoringUnkeptManifests
            ? KeptManifests(assuming) + """
              SELECT b.digest AS Digest, b.size AS Size FROM blobs b
              WHERE b.state = 'live' AND b.linked_at <= @cutoff AND b.digest > @after
                AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN kept k ON k.id = mr.manifest_id WHERE mr.digest = b.digest AND mr.kind = 'blob')
                AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
              ORDER BY b.digest LIMIT @limit
              """
            : $"""
              SELECT b.digest AS Digest, b.size AS Size FROM blobs b
              WHERE b.state = 'live' AND b.linked_at <= @cutoff AND b.digest > @after AND {Unreferenced}
              ORDER BY b.digest LIMIT @limit
              """;
        var rows = await connection.QueryAsync<BlobRow>(Command(sql,
            new { cutoff = linkedBefore.ToUnixTimeMilliseconds(), keepUntagged = !deleteUntagged, after = after ?? "", limit, assumedRepositories = AssumedRepositories(assumingDeleted), assumedTags = AssumedTags(assumingDeleted) }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public Task<IReadOnlyList<GcBlob>> TryMarkDeletingAsync(IReadOnlyCollection<Digest> digests, DateTimeOffset linkedBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        if (digests.Count == 0) return Task.FromResult<IReadOnlyList<GcBlob>>([]);
        // Never waits for a push, so a page of claims holds its locks for a few statements only and cannot deadlock with
        // one: what a link or a push holds right now is skipped (it stays live, and the next run looks again).
        return connections.WriteAsync<IReadOnlyList<GcBlob>>(async (connection, transaction) =>
        {
            var args = new { digests = digests.Select(d => d.ToString()).ToArray(), cutoff = linkedBefore.ToUnixTimeMilliseconds() };
            // 1. The rows, locked: a link waits for this transaction from here on; a row a link holds is skipped.
            var rows = (await connection.QueryAsync<string>(Command(
                "SELECT digest FROM blobs WHERE digest = ANY(@digests) AND state = 'live' AND linked_at <= @cutoff ORDER BY digest FOR UPDATE SKIP LOCKED",
                args, transaction, cancellationToken))).ToArray();
            if (rows.Length == 0) return [];
            // 2. Their links, locked: a manifest push holds FOR KEY SHARE on the links it checked until it commits, and
            // the blobs of such a link are skipped. A push that checks a link later waits, and finds it gone.
            var free = (await connection.QueryAsync<string>(Command("""
                WITH locked AS MATERIALIZED (SELECT digest FROM repository_blobs WHERE digest = ANY(@rows) FOR UPDATE SKIP LOCKED)
                SELECT b.digest FROM unnest(@rows) AS b (digest)
                WHERE (SELECT count(*) FROM repository_blobs r WHERE r.digest = b.digest) = (SELECT count(*) FROM locked l WHERE l.digest = b.digest)
                """, new { rows }, transaction, cancellationToken))).ToArray();
            if (free.Length == 0) return [];
            // 3. A new statement sees what the pushes that held those links committed.
            var claimed = (await connection.QueryAsync<BlobRow>(Command($"""
                WITH unreferenced AS (SELECT b.digest FROM unnest(@free) AS b (digest) WHERE {Unreferenced}),
                unlinked AS (DELETE FROM repository_blobs WHERE digest IN (SELECT digest FROM unreferenced))
                UPDATE blobs SET state = 'deleting' WHERE digest IN (SELECT digest FROM unreferenced)
                RETURNING digest AS Digest, size AS Size
                """, new { free }, transaction, cancellationToken))).Select(r => r.ToModel()).ToList();
            return claimed;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<GcBlob>> TryClaimOrphansAsync(IReadOnlyCollection<GcBlob> orphans, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(orphans);
        if (orphans.Count == 0) return Task.FromResult<IReadOnlyList<GcBlob>>([]);
        return connections.WriteAsync<IReadOnlyList<GcBlob>>(async (connection, transaction) =>
            (await connection.QueryAsync<BlobRow>(Command("""
                INSERT INTO blobs (digest, size, created_at, linked_at, state)
                SELECT o.digest, o.size, 0, 0, 'deleting' FROM unnest(@digests, @sizes) AS o (digest, size)
                ON CONFLICT (digest) DO NOTHING
                RETURNING digest AS Digest, size AS Size
                """, new { digests = orphans.Select(o => o.Digest.ToString()).ToArray(), sizes = orphans.Select(o => o.Size).ToArray() }, transaction, cancellationToken)))
            .Select(r => r.ToModel()).ToList(),
            cancellationToken);
    }

    public async Task<IReadOnlySet<Digest>> FindKnownBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        if (digests.Count == 0) return new HashSet<Digest>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<string>(Command(
            "SELECT digest FROM blobs WHERE digest = ANY(@digests)", new { digests = digests.Select(d => d.ToString()).ToArray() }, null, cancellationToken));
        return rows.Select(Digest.Parse).ToHashSet();
    }

    public Task ForgetBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        if (digests.Count == 0) return Task.CompletedTask;
        return connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                "DELETE FROM repository_blobs WHERE digest = ANY(@digests); DELETE FROM blobs WHERE digest = ANY(@digests) AND state = 'deleting';",
                new { digests = digests.Select(d => d.ToString()).ToArray() }, transaction, cancellationToken)),
            cancellationToken);
    }

    public async Task<IReadOnlyList<GcManifest>> ListUnkeptManifestsAsync(
        DateTimeOffset pushedBefore, bool deleteUntagged, IReadOnlyCollection<ExpiredTag>? assumingDeleted, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<ManifestNameRow>(Command(KeptManifests(assumingDeleted is { Count: > 0 }) + """
            SELECT r.name AS Repository, m.digest AS Digest
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
            WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.id = m.id)
            ORDER BY m.id DESC LIMIT @limit
            """, new { cutoff = pushedBefore.ToUnixTimeMilliseconds(), keepUntagged = !deleteUntagged, limit, assumedRepositories = AssumedRepositories(assumingDeleted), assumedTags = AssumedTags(assumingDeleted) }, null, cancellationToken));
        return [.. rows.Select(r => new GcManifest(r.Repository, Digest.Parse(r.Digest)))];
    }

    public Task<IReadOnlyList<GcManifest>> TryDeleteUnkeptManifestsAsync(IReadOnlyList<GcManifest> manifests, DateTimeOffset pushedBefore, Func<GcManifest, RegistryChange> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifests);
        ArgumentNullException.ThrowIfNull(change);
        if (manifests.Count == 0) return Task.FromResult<IReadOnlyList<GcManifest>>([]);
        return connections.WriteAsync<IReadOnlyList<GcManifest>>(async (connection, transaction) =>
        {
            var deleted = new List<GcManifest>(manifests.Count);
            foreach (var manifest in manifests)
            {
                if (await TryDeleteUnkeptAsync(connection, transaction, manifest, pushedBefore, change(manifest), cancellationToken)) deleted.Add(manifest);
            }
            return deleted;
        }, cancellationToken);
    }

    /// <summary>
    /// One manifest of a page, inside the page's transaction. Locked first, skipped when a push holds it (it holds
    /// FOR KEY SHARE on a manifest it tags, or lists as a child), so the page never waits while holding the locks of the
    /// manifests it deleted before; then re-checked in new statements.
    /// </summary>
    private async Task<bool> TryDeleteUnkeptAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, GcManifest manifest, DateTimeOffset pushedBefore, RegistryChange change, CancellationToken cancellationToken)
    {
        var args = new { repository = manifest.Repository, digest = manifest.Digest.ToString(), cutoff = pushedBefore.ToUnixTimeMilliseconds() };
        var row = await connection.QuerySingleOrDefaultAsync<ManifestKeyRow>(Command("""
            SELECT m.id AS Id, m.repository_id AS RepositoryId
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
            WHERE r.name = @repository AND m.digest = @digest AND m.pushed_at <= @cutoff
            FOR UPDATE OF m SKIP LOCKED
            """, args, transaction, cancellationToken));
        if (row is null) return false;
        var kept = await connection.ExecuteScalarAsync<bool>(Command("""
            SELECT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
                OR EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id
                           WHERE p.repository_id = m.repository_id AND mr.digest = m.digest AND mr.kind = 'manifest')
                OR (m.subject_digest IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))
            FROM manifests m WHERE m.id = @Id
            """, new { row.Id }, transaction, cancellationToken));
        if (kept) return false;
        await connection.ExecuteAsync(Command("""
            DELETE FROM manifests WHERE id = @Id;
            DELETE FROM repository_blobs WHERE repository_id = @RepositoryId AND digest = @digest;
            """, new { row.Id, row.RepositoryId, digest = manifest.Digest.ToString() }, transaction, cancellationToken));
        await connections.JournalAsync(connection, transaction, change, cancellationToken);
        return true;
    }

    public Task<long> StartRunAsync(DateTimeOffset startedAt, bool dryRun, string trigger, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteScalarAsync<long>(Command(
            "INSERT INTO gc_runs (started_at, dry_run, triggered_by) VALUES (@startedAt, @dryRun, @trigger) RETURNING id",
            new { startedAt = startedAt.ToUnixTimeMilliseconds(), dryRun, trigger }, transaction, cancellationToken)), cancellationToken);

    public Task FinishRunAsync(GcRun run, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command("""
            UPDATE gc_runs SET finished_at = @finishedAt, blobs_deleted = @BlobsDeleted, bytes_freed = @BytesFreed,
                manifests_deleted = @ManifestsDeleted, uploads_expired = @UploadsExpired, tags_deleted = @TagsDeleted, error = @Error
            WHERE id = @Id
            """, new { run.Id, finishedAt = run.FinishedAt?.ToUnixTimeMilliseconds(), run.BlobsDeleted, run.BytesFreed, run.ManifestsDeleted, run.UploadsExpired, run.TagsDeleted, Error = PostgreSqlText.Clean(run.Error) },
            transaction, cancellationToken)), cancellationToken);

    public async Task<IReadOnlyList<GcRun>> ListRunsAsync(long? before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<GcRunRow>(Command($"""
            SELECT id AS Id, started_at AS StartedAt, finished_at AS FinishedAt, dry_run AS DryRun, triggered_by AS Trigger,
                   blobs_deleted AS BlobsDeleted, bytes_freed AS BytesFreed, manifests_deleted AS ManifestsDeleted,
                   uploads_expired AS UploadsExpired, tags_deleted AS TagsDeleted, error AS Error
            FROM gc_runs {(before is null ? "" : "WHERE id < @before")} ORDER BY id DESC LIMIT @limit
            """, new { before, limit }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    /// <summary>The collector lock: its connection, unlocked and returned to the pool on dispose.</summary>
    private sealed class SessionLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@key)", new { key = CollectorLockKey }));
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
