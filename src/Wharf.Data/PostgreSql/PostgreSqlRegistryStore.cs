using Dapper;
using Npgsql;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using static Wharf.Data.PostgreSql.PostgreSqlText;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IRegistryStore"/> on PostgreSQL with Dapper. Writers run in parallel, so a manifest push locks what it
/// checks (<c>FOR KEY SHARE</c> on the blob links and child manifests it needs): a concurrent unlink or delete waits for the
/// push to commit, and a push never stores a manifest whose references were removed under it. Digests are text,
/// timestamps unix milliseconds (UTC), as on SQLite.
/// </summary>
public sealed class PostgreSqlRegistryStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : IRegistryStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public Task EnsureRepositoryAsync(string repository, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        return connections.WriteAsync(
            (connection, transaction) => EnsureRepositoryIdAsync(connection, transaction, repository, Now(), cancellationToken),
            cancellationToken);
    }

    public async Task<bool> RepositoryExistsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int?>(Command(
            "SELECT 1 FROM repositories WHERE name = @repository", new { repository }, null, cancellationToken)) is not null;
    }

    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await connections.OpenAsync(cancellationToken);
        var sql = last is null
            ? "SELECT name FROM repositories ORDER BY name LIMIT @limit"
            : "SELECT name FROM repositories WHERE name > @last ORDER BY name LIMIT @limit";
        return (await connection.QueryAsync<string>(Command(sql, new { last, limit }, null, cancellationToken))).AsList();
    }

    public Task<LinkBlobStatus> LinkBlobAsync(string repository, Digest digest, long size, Func<CancellationToken, ValueTask<bool>>? isStored, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var text = digest.ToString();
            // The blob row first, locked: a refused link creates nothing, not even the repository.
            if (await MarkLinkedAsync(connection, transaction, text, size, now, isStored, cancellationToken) == LinkBlobStatus.Gone) return LinkBlobStatus.Gone;
            var repositoryId = await EnsureRepositoryIdAsync(connection, transaction, repository, now, cancellationToken);
            await InsertLinkAsync(connection, transaction, repositoryId, text, now, cancellationToken);
            return LinkBlobStatus.Linked;
        }, cancellationToken);
    }

    public async Task<long?> GetLinkedBlobSizeAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(Command(
            """
            SELECT b.size
            FROM repository_blobs rb
            JOIN repositories r ON r.id = rb.repository_id
            JOIN blobs b ON b.digest = rb.digest
            WHERE r.name = @repository AND rb.digest = @digest AND b.state = 'live'
            """, new { repository, digest = digest.ToString() }, null, cancellationToken));
    }

    public Task<bool> UnlinkBlobAsync(string repository, Digest digest, RegistryChange? change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var removed = await connection.ExecuteAsync(Command(
                """
                DELETE FROM repository_blobs
                WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND digest = @digest
                """, new { repository, digest = digest.ToString() }, transaction, cancellationToken));
            if (removed > 0) await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return removed > 0;
        }, cancellationToken);

    public Task<PutManifestResult> PutManifestAsync(string repository, NewManifest manifest, IReadOnlyList<string> tags, RegistryChange? change, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(tags);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var parsed = manifest.Manifest;
            var now = Now();
            var repositoryId = await connection.ExecuteScalarAsync<long?>(Command(
                "SELECT id FROM repositories WHERE name = @repository FOR KEY SHARE", new { repository }, transaction, cancellationToken));

            // Decide on the references first, holding them (FOR KEY SHARE) until commit: when one is missing, nothing is written.
            // A pull-through cache's copy comes before its blobs and children, which are fetched on demand.
            List<Wharf.Core.Manifests.Descriptor> requiredBlobs = manifest.FromUpstream ? [] : parsed.RequiredBlobs.ToList();
            if (requiredBlobs.Count > 0)
            {
                var linked = repositoryId is null ? [] : (await connection.QueryAsync<string>(Command(
                    "SELECT digest FROM repository_blobs WHERE repository_id = @repositoryId AND digest = ANY(@digests) FOR KEY SHARE",
                    new { repositoryId, digests = requiredBlobs.Select(b => b.Digest.ToString()).ToArray() }, transaction, cancellationToken))).ToHashSet(StringComparer.Ordinal);
                foreach (var blob in requiredBlobs)
                {
                    if (!linked.Contains(blob.Digest.ToString())) return PutManifestResult.MissingReference(blob.Digest);
                }
            }
            if (parsed.Manifests.Count > 0 && !manifest.FromUpstream)
            {
                var stored = repositoryId is null ? [] : (await connection.QueryAsync<string>(Command(
                    "SELECT digest FROM manifests WHERE repository_id = @repositoryId AND digest = ANY(@digests) FOR KEY SHARE",
                    new { repositoryId, digests = parsed.Manifests.Select(m => m.Digest.ToString()).ToArray() }, transaction, cancellationToken))).ToHashSet(StringComparer.Ordinal);
                foreach (var child in parsed.Manifests)
                {
                    if (!stored.Contains(child.Digest.ToString())) return PutManifestResult.MissingReference(child.Digest);
                }
            }

            var digest = manifest.Digest.ToString();
            if (!manifest.FromUpstream && await PostgreSqlPolicyStore.RefusalAsync(connection, transaction, repository, repositoryId, digest, parsed, tags, cancellationToken) is { } refused)
            {
                // A first push that the quota refuses leaves no empty repository behind (nor its links); nothing else was written.
                if (refused.Status == PutManifestStatus.QuotaExceeded && repositoryId is { } refusedIn)
                {
                    await AbandonedRepositories.RemoveRefusedAsync(connection, transaction, refusedIn, StoredText.RequiredBlobDigests(parsed), "FOR UPDATE", cancellationToken);
                }
                return refused;
            }

            var repoId = repositoryId ?? await EnsureRepositoryIdAsync(connection, transaction, repository, now, cancellationToken);
            var manifestId = await connection.ExecuteScalarAsync<long?>(Command(
                """
                INSERT INTO manifests (repository_id, digest, media_type, content, size, artifact_type, subject_digest, annotations, pushed_at)
                VALUES (@repoId, @digest, @mediaType, @content, @size, @artifactType, @subject, @annotations, @now)
                ON CONFLICT (repository_id, digest) DO NOTHING
                RETURNING id
                """,
                new
                {
                    repoId,
                    digest,
                    mediaType = Clean(manifest.MediaType),
                    content = manifest.Content,
                    size = (long)manifest.Content.Length,
                    artifactType = Clean(parsed.ReferrerArtifactType),
                    subject = parsed.Subject?.Digest.ToString(),
                    annotations = Clean(parsed.AnnotationsJson),
                    now,
                }, transaction, cancellationToken));

            if (manifestId is { } newId)
            {
                var digests = new List<string>();
                var kinds = new List<string>();
                if (parsed.Config is { } config) Add(config.Digest, "blob");
                foreach (var layer in parsed.Layers) Add(layer.Digest, "blob");
                foreach (var child in parsed.Manifests) Add(child.Digest, "manifest");
                if (digests.Count > 0)
                {
                    await connection.ExecuteAsync(Command(
                        """
                        INSERT INTO manifest_references (manifest_id, digest, kind)
                        SELECT @newId, r.digest, r.kind FROM unnest(@digests, @kinds) AS r (digest, kind)
                        ON CONFLICT DO NOTHING
                        """, new { newId, digests = digests.ToArray(), kinds = kinds.ToArray() }, transaction, cancellationToken));
                }

                void Add(Digest reference, string kind)
                {
                    digests.Add(reference.ToString());
                    kinds.Add(kind);
                }
            }
            else
            {
                // Held until commit, so the collector cannot delete it under the tags inserted below. When it did so
                // between the INSERT and here, the whole push runs again (and stores the manifest anew).
                manifestId = await connection.ExecuteScalarAsync<long?>(Command(
                    "SELECT id FROM manifests WHERE repository_id = @repoId AND digest = @digest FOR KEY SHARE",
                    new { repoId, digest }, transaction, cancellationToken))
                    ?? throw new PostgresException("the manifest was deleted while it was pushed again", "ERROR", "ERROR", PostgresErrorCodes.SerializationFailure);
            }

            // The manifest is a blob of the repository too (idempotent): an index may point at it and GET /blobs/<digest> serves it.
            // A blob row of the same digest that the collector is deleting is left alone: the manifest's bytes live here.
            if (await MarkLinkedAsync(connection, transaction, digest, manifest.Content.Length, now, null, cancellationToken) == LinkBlobStatus.Linked)
            {
                await InsertLinkAsync(connection, transaction, repoId, digest, now, cancellationToken);
            }

            if (tags.Count > 0)
            {
                await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO tags (repository_id, name, manifest_id, updated_at)
                    SELECT @repoId, t.name, @manifestId, @now FROM unnest(@names) AS t (name)
                    ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
                    WHERE tags.manifest_id <> excluded.manifest_id
                    """, new { repoId, manifestId, now, names = tags.Distinct(StringComparer.Ordinal).ToArray() }, transaction, cancellationToken));
            }
            await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return PutManifestResult.Stored();
        }, cancellationToken);
    }

    public async Task<StoredManifest?> GetManifestAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ManifestRow>(Command(
            """
            SELECT m.digest AS Digest, m.media_type AS MediaType, m.content AS Content, m.artifact_type AS ArtifactType,
                   m.subject_digest AS SubjectDigest, m.pushed_at AS PushedAt
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
            WHERE r.name = @repository AND m.digest = @digest
            """, new { repository, digest = digest.ToString() }, null, cancellationToken));
        return row?.ToModel();
    }

    public async Task<Digest?> ResolveTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var digest = await connection.ExecuteScalarAsync<string?>(Command(
            """
            SELECT m.digest
            FROM tags t
            JOIN repositories r ON r.id = t.repository_id
            JOIN manifests m ON m.id = t.manifest_id
            WHERE r.name = @repository AND t.name = @tag
            """, new { repository, tag }, null, cancellationToken));
        return digest is null ? null : Digest.Parse(digest);
    }

    public Task<DeleteResult> DeleteManifestAsync(string repository, Digest digest, RegistryChange? change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var text = digest.ToString();
            var row = await connection.QuerySingleOrDefaultAsync<ManifestKeyRow>(Command(
                """
                SELECT m.id AS Id, m.repository_id AS RepositoryId
                FROM manifests m JOIN repositories r ON r.id = m.repository_id
                WHERE r.name = @repository AND m.digest = @digest
                FOR UPDATE OF m
                """, new { repository, digest = text }, transaction, cancellationToken));
            if (row is null) return DeleteResult.NotFound();
            // The manifest is locked: a push that tags it holds FOR KEY SHARE on it, so it either committed before the lock
            // was granted (and this new statement sees its tags) or waits for this delete and then runs again.
            if (await ImmutableTagHolds.OfManifestAsync(connection, transaction, row.RepositoryId, row.Id, cancellationToken) is { } refused) return refused;
            // Tags and references go with the manifest (ON DELETE CASCADE); referrers whose subject it is stay: they are
            // manifests of their own. The link PutManifest added for the manifest's own bytes goes too.
            await connection.ExecuteAsync(Command(
                """
                DELETE FROM manifests WHERE id = @Id;
                DELETE FROM repository_blobs WHERE repository_id = @RepositoryId AND digest = @digest;
                """, new { row.Id, row.RepositoryId, digest = text }, transaction, cancellationToken));
            await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return DeleteResult.Deleted();
        }, cancellationToken);

    public Task<DeleteResult> DeleteTagAsync(string repository, string tag, RegistryChange? change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var repositoryId = await connection.ExecuteScalarAsync<long?>(Command(
                "SELECT repository_id FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND name = @tag FOR UPDATE",
                new { repository, tag }, transaction, cancellationToken));
            if (repositoryId is null) return DeleteResult.NotFound();
            if (await ImmutableTagHolds.OfTagAsync(connection, transaction, repositoryId.Value, tag, cancellationToken) is { } refused) return refused;
            await connection.ExecuteAsync(Command(
                "DELETE FROM tags WHERE repository_id = @repositoryId AND name = @tag", new { repositoryId, tag }, transaction, cancellationToken));
            await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return DeleteResult.Deleted();
        }, cancellationToken);

    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, string? last, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await connections.OpenAsync(cancellationToken);
        var sql = $"""
                   SELECT t.name FROM tags t
                   WHERE t.repository_id = (SELECT id FROM repositories WHERE name = @repository)
                   {(last is null ? "" : "AND t.name > @last")}
                   ORDER BY t.name LIMIT @limit
                   """;
        return (await connection.QueryAsync<string>(Command(sql, new { repository, last, limit }, null, cancellationToken))).AsList();
    }

    public async Task<IReadOnlyList<Referrer>> ListReferrersAsync(string repository, Digest subject, string? artifactType, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var sql = $"""
                   SELECT m.digest AS Digest, m.media_type AS MediaType, m.size AS Size, m.artifact_type AS ArtifactType,
                          m.annotations AS Annotations
                   FROM manifests m JOIN repositories r ON r.id = m.repository_id
                   WHERE r.name = @repository AND m.subject_digest = @subject
                   {(artifactType is null ? "" : "AND m.artifact_type = @artifactType")}
                   ORDER BY m.digest
                   """;
        var rows = await connection.QueryAsync<ReferrerRow>(Command(sql, new { repository, subject = subject.ToString(), artifactType = Clean(artifactType) }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    /// <summary>
    /// The repository's id, created when missing (a concurrent creator's row is waited for, then read), and held
    /// (<c>FOR KEY SHARE</c>) until commit, so a repository delete — by hand, or of one that a refused first push leaves
    /// empty — waits for this transaction instead of removing the row under its links. A row deleted between the insert
    /// and the read is made again.
    /// </summary>
    internal static async Task<long> EnsureRepositoryIdAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string repository, long now, CancellationToken cancellationToken)
    {
        while (true)
        {
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                "INSERT INTO repositories (name, created_at) VALUES (@repository, @now) ON CONFLICT (name) DO NOTHING RETURNING id",
                new { repository, now }, transaction, cancellationToken))
                ?? await connection.ExecuteScalarAsync<long?>(Command(
                    "SELECT id FROM repositories WHERE name = @repository FOR KEY SHARE", new { repository }, transaction, cancellationToken));
            if (id is { } existing) return existing;
        }
    }

    /// <summary>
    /// Inserts the blob row or marks it linked now, holding its row lock until commit (the collector's compare-and-swap
    /// waits for it, and this waits for the collector's). Refused when the row is <c>deleting</c>, or when it is new and
    /// <paramref name="isStored"/> says the object is gone (then nothing stays).
    /// </summary>
    private static async Task<LinkBlobStatus> MarkLinkedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string digest, long size, long now,
        Func<CancellationToken, ValueTask<bool>>? isStored, CancellationToken cancellationToken)
    {
        var inserted = await connection.ExecuteScalarAsync<bool?>(Command(
            """
            INSERT INTO blobs (digest, size, created_at, linked_at) VALUES (@digest, @size, @now, @now)
            ON CONFLICT (digest) DO UPDATE SET linked_at = excluded.linked_at WHERE blobs.state = 'live'
            RETURNING (xmax = 0)
            """, new { digest, size, now }, transaction, cancellationToken));
        if (inserted is null) return LinkBlobStatus.Gone;
        if (inserted.Value && isStored is not null && !await isStored(cancellationToken))
        {
            await connection.ExecuteAsync(Command("DELETE FROM blobs WHERE digest = @digest", new { digest }, transaction, cancellationToken));
            return LinkBlobStatus.Gone;
        }
        return LinkBlobStatus.Linked;
    }

    private static Task InsertLinkAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long repositoryId, string digest, long now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(Command(
            """
            INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (@repositoryId, @digest, @now)
            ON CONFLICT (repository_id, digest) DO NOTHING
            """, new { repositoryId, digest, now }, transaction, cancellationToken));
}
