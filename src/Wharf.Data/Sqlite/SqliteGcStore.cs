using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Gc;
using Wharf.Core.Retention;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IGcStore"/> on SQLite. Every compare-and-swap runs under the writer gate in a <c>BEGIN IMMEDIATE</c>
/// transaction, so it cannot interleave with a link or a manifest push of this process, and SQLite's file lock orders it
/// against other processes on the same file (a <c>wharf gc</c> beside <c>wharf serve</c>). The collector's writes are
/// background writes (<see cref="SqliteConnectionFactory.BeginBackgroundWriteAsync"/>): a push waiting for the writer goes
/// first. The collector lock is an
/// exclusive lock on the file <c>&lt;database&gt;.gc-lock</c>, which the operating system releases when its holder dies.
/// </summary>
public sealed class SqliteGcStore(SqliteConnectionFactory connections) : IGcStore
{
    /// <summary>The tags a dry run assumes deleted, as a table: they keep nothing.</summary>
    private const string AssumedTable = """
        assumed(repository_id, name) AS (
            SELECT r.id, json_extract(j.value, '$[1]') FROM json_each(@assumed) j
            JOIN repositories r ON r.name = json_extract(j.value, '$[0]')
        ),
        """;

    private const string NotAssumed = " AND NOT EXISTS (SELECT 1 FROM assumed a WHERE a.repository_id = t.repository_id AND a.name = t.name)";

    /// <summary>
    /// The manifests kept: tagged ones, those pushed after the cutoff, (keeping untagged) every one that is not a referrer,
    /// and from those the children of an index and the referrers of a kept manifest, recursively. With
    /// <paramref name="assumingDeleted"/>, the tags named in <c>@assumed</c> (a JSON array of [repository, tag]) keep nothing.
    /// </summary>
    private static string KeptManifests(bool assumingDeleted) => $"""
        WITH RECURSIVE {(assumingDeleted ? AssumedTable : "")}
        kept(id) AS (
            SELECT m.id FROM manifests m
            WHERE m.pushed_at > @cutoff
               OR EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id{(assumingDeleted ? NotAssumed : "")})
               OR (@keepUntagged = 1 AND m.subject_digest IS NULL)
            UNION
            SELECT c.id FROM kept k
            JOIN manifests p ON p.id = k.id
            JOIN manifest_references mr ON mr.manifest_id = p.id AND mr.kind = 'manifest'
            JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = mr.digest
            UNION
            SELECT s.id FROM kept k
            JOIN manifests p ON p.id = k.id
            JOIN manifests s ON s.repository_id = p.repository_id AND s.subject_digest = p.digest
        )
        """;

    /// <summary>The tags a dry run assumes deleted, as <see cref="KeptManifests"/> reads them (null: none).</summary>
    private static string? Assumed(IReadOnlyCollection<ExpiredTag>? tags) =>
        tags is not { Count: > 0 } ? null : System.Text.Json.JsonSerializer.Serialize(tags.Select(t => new[] { t.Repository, t.Tag }).ToArray(), GcJson.Default.StringArrayArray);

    private const string Unreferenced = """
        NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.digest = b.digest AND mr.kind = 'blob')
        AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
        """;

    public Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken)
    {
        var database = new SqliteConnectionStringBuilder(connections.ConnectionString).DataSource;
        var path = Path.GetFullPath(database) + ".gc-lock";
        try
        {
            // FileShare.None is an exclusive flock on Unix: held across processes, dropped by the kernel when the holder dies.
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            var file = new FileStream(path, options);
            return Task.FromResult<IAsyncDisposable?>(file);
        }
        catch (IOException)
        {
            return Task.FromResult<IAsyncDisposable?>(null);
        }
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
        var assumed = Assumed(assumingDeleted);
        var sql = ignoringUnkeptManifests
            ? KeptManifests(assumed is not null) + """
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
            new { cutoff = linkedBefore.ToUnixTimeMilliseconds(), keepUntagged = deleteUntagged ? 0 : 1, after = after ?? "", limit, assumed }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public Task<IReadOnlyList<GcBlob>> TryMarkDeletingAsync(IReadOnlyCollection<Digest> digests, DateTimeOffset linkedBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        if (digests.Count == 0) return Task.FromResult<IReadOnlyList<GcBlob>>([]);
        // One transaction under the one writer: nothing links or pushes in between, so the claim needs no row locks.
        return connections.WriteInBackgroundAsync<IReadOnlyList<GcBlob>>(async (connection, transaction) =>
        {
            var claimed = new List<GcBlob>(digests.Count);
            foreach (var chunk in Chunks(digests))
            {
                var rows = await connection.QueryAsync<BlobRow>(Command($"""
                    UPDATE blobs SET state = 'deleting'
                    WHERE digest IN @digests AND state = 'live' AND linked_at <= @cutoff AND {Unreferenced.Replace("b.digest", "blobs.digest", StringComparison.Ordinal)}
                    RETURNING digest AS Digest, size AS Size
                    """, new { digests = chunk, cutoff = linkedBefore.ToUnixTimeMilliseconds() }, transaction, cancellationToken));
                var page = rows.Select(r => r.ToModel()).ToList();
                if (page.Count == 0) continue;
                await connection.ExecuteAsync(Command("DELETE FROM repository_blobs WHERE digest IN @digests",
                    new { digests = page.Select(b => b.Digest.ToString()).ToArray() }, transaction, cancellationToken));
                claimed.AddRange(page);
            }
            return claimed;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<GcBlob>> TryClaimOrphansAsync(IReadOnlyCollection<GcBlob> orphans, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(orphans);
        if (orphans.Count == 0) return Task.FromResult<IReadOnlyList<GcBlob>>([]);
        return connections.WriteInBackgroundAsync<IReadOnlyList<GcBlob>>(async (connection, transaction) =>
        {
            var claimed = new List<GcBlob>(orphans.Count);
            foreach (var orphan in orphans)
            {
                var inserted = await connection.ExecuteAsync(Command(
                    "INSERT INTO blobs (digest, size, created_at, linked_at, state) VALUES (@digest, @size, 0, 0, 'deleting') ON CONFLICT (digest) DO NOTHING",
                    new { digest = orphan.Digest.ToString(), size = orphan.Size }, transaction, cancellationToken));
                if (inserted == 1) claimed.Add(orphan);
            }
            return claimed;
        }, cancellationToken);
    }

    public async Task<IReadOnlySet<Digest>> FindKnownBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        if (digests.Count == 0) return new HashSet<Digest>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        var known = new HashSet<Digest>();
        foreach (var chunk in Chunks(digests))
        {
            var rows = await connection.QueryAsync<string>(Command(
                "SELECT digest FROM blobs WHERE digest IN @digests", new { digests = chunk }, null, cancellationToken));
            foreach (var row in rows) known.Add(Digest.Parse(row));
        }
        return known;
    }

    public Task ForgetBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        if (digests.Count == 0) return Task.CompletedTask;
        return connections.WriteInBackgroundAsync(async (connection, transaction) =>
        {
            foreach (var chunk in Chunks(digests))
            {
                await connection.ExecuteAsync(Command(
                    "DELETE FROM repository_blobs WHERE digest IN @digests; DELETE FROM blobs WHERE digest IN @digests AND state = 'deleting';",
                    new { digests = chunk }, transaction, cancellationToken));
            }
            return 0;
        }, cancellationToken);
    }

    /// <summary>
    /// Digests as text, in lists that one statement binds (SQLite takes at most 32,766 parameters; 500 stay far below,
    /// and a statement naming a few hundred is where one lookup per digest pays off).
    /// </summary>
    private static IEnumerable<string[]> Chunks(IReadOnlyCollection<Digest> digests) =>
        digests.Select(d => d.ToString()).Chunk(500);

    public async Task<IReadOnlyList<GcManifest>> ListUnkeptManifestsAsync(
        DateTimeOffset pushedBefore, bool deleteUntagged, IReadOnlyCollection<ExpiredTag>? assumingDeleted, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var assumed = Assumed(assumingDeleted);
        var rows = await connection.QueryAsync<ManifestNameRow>(Command(KeptManifests(assumed is not null) + """
            SELECT r.name AS Repository, m.digest AS Digest
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
            WHERE m.id NOT IN (SELECT id FROM kept)
            ORDER BY m.id DESC LIMIT @limit
            """, new { cutoff = pushedBefore.ToUnixTimeMilliseconds(), keepUntagged = deleteUntagged ? 0 : 1, limit, assumed }, null, cancellationToken));
        return [.. rows.Select(r => new GcManifest(r.Repository, Digest.Parse(r.Digest)))];
    }

    public Task<IReadOnlyList<GcManifest>> TryDeleteUnkeptManifestsAsync(IReadOnlyList<GcManifest> manifests, DateTimeOffset pushedBefore, Func<GcManifest, RegistryChange> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifests);
        ArgumentNullException.ThrowIfNull(change);
        if (manifests.Count == 0) return Task.FromResult<IReadOnlyList<GcManifest>>([]);
        return connections.WriteInBackgroundAsync<IReadOnlyList<GcManifest>>(async (connection, transaction) =>
        {
            var deleted = new List<GcManifest>(manifests.Count);
            foreach (var manifest in manifests)
            {
                if (await TryDeleteUnkeptAsync(connection, transaction, manifest, pushedBefore, change(manifest), cancellationToken)) deleted.Add(manifest);
            }
            return deleted;
        }, cancellationToken);
    }

    /// <summary>One manifest of a page, re-checked and deleted inside the page's transaction (which sees the page's earlier deletions).</summary>
    private async Task<bool> TryDeleteUnkeptAsync(SqliteConnection connection, SqliteTransaction transaction, GcManifest manifest, DateTimeOffset pushedBefore, RegistryChange change, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<ManifestKeyRow>(Command("""
            SELECT m.id AS Id, m.repository_id AS RepositoryId
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
            WHERE r.name = @repository AND m.digest = @digest AND m.pushed_at <= @cutoff
              AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
              AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id
                              WHERE p.repository_id = m.repository_id AND mr.digest = m.digest AND mr.kind = 'manifest')
              AND (m.subject_digest IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))
            """, new { repository = manifest.Repository, digest = manifest.Digest.ToString(), cutoff = pushedBefore.ToUnixTimeMilliseconds() }, transaction, cancellationToken));
        if (row is null) return false;
        await connection.ExecuteAsync(Command("""
            DELETE FROM manifest_references WHERE manifest_id = @Id;
            DELETE FROM manifests WHERE id = @Id;
            DELETE FROM repository_blobs WHERE repository_id = @RepositoryId AND digest = @digest;
            """, new { row.Id, row.RepositoryId, digest = manifest.Digest.ToString() }, transaction, cancellationToken));
        await connections.JournalAsync(connection, transaction, change, cancellationToken);
        return true;
    }

    public Task<long> StartRunAsync(DateTimeOffset startedAt, bool dryRun, string trigger, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteScalarAsync<long>(Command(
            "INSERT INTO gc_runs (started_at, dry_run, triggered_by) VALUES (@startedAt, @dryRun, @trigger) RETURNING id",
            new { startedAt = startedAt.ToUnixTimeMilliseconds(), dryRun = dryRun ? 1 : 0, trigger }, transaction, cancellationToken)), cancellationToken);

    public Task FinishRunAsync(GcRun run, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command("""
            UPDATE gc_runs SET finished_at = @finishedAt, blobs_deleted = @BlobsDeleted, bytes_freed = @BytesFreed,
                manifests_deleted = @ManifestsDeleted, uploads_expired = @UploadsExpired, tags_deleted = @TagsDeleted, error = @Error
            WHERE id = @Id
            """, new { run.Id, finishedAt = run.FinishedAt?.ToUnixTimeMilliseconds(), run.BlobsDeleted, run.BytesFreed, run.ManifestsDeleted, run.UploadsExpired, run.TagsDeleted, run.Error },
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

    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[][]))]
internal sealed partial class GcJson : System.Text.Json.Serialization.JsonSerializerContext;
