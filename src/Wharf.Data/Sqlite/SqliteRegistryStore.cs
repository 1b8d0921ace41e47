using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Registry;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IRegistryStore"/> on SQLite with Dapper. Writes go through the connection factory's writer gate
/// in one <c>BEGIN IMMEDIATE</c> transaction each; reads use their own pooled connection.
/// Digests are stored as their text form; timestamps as unix milliseconds (UTC).
/// </summary>
public sealed class SqliteRegistryStore : IRegistryStore
{
    private readonly SqliteConnectionFactory _connections;
    private readonly TimeProvider _time;

    public SqliteRegistryStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connections);
        _connections = connections;
        _time = timeProvider ?? TimeProvider.System;
    }

    public Task EnsureRepositoryAsync(string repository, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        return _connections.WriteAsync(
            (connection, transaction) => EnsureRepositoryIdAsync(connection, transaction, repository, Now(), cancellationToken),
            cancellationToken);
    }

    public async Task<bool> RepositoryExistsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(Command(
            "SELECT 1 FROM repositories WHERE name = @repository", new { repository }, null, cancellationToken)) is not null;
    }

    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var sql = last is null
            ? "SELECT name FROM repositories ORDER BY name COLLATE BINARY LIMIT @limit"
            : "SELECT name FROM repositories WHERE name > @last ORDER BY name COLLATE BINARY LIMIT @limit";
        var names = await connection.QueryAsync<string>(Command(sql, new { last, limit }, null, cancellationToken));
        return names.AsList();
    }

    public async Task<LinkBlobStatus> LinkBlobAsync(string repository, Digest digest, long size, Func<CancellationToken, ValueTask<bool>>? isStored, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        await using var scope = await _connections.BeginWriteAsync(cancellationToken);
        var now = Now();
        var repositoryId = await EnsureRepositoryIdAsync(scope.Connection, scope.Transaction, repository, now, cancellationToken);
        var status = await LinkBlobAsync(scope.Connection, scope.Transaction, repositoryId, digest.ToString(), size, now, isStored, cancellationToken);
        // Nothing of a refused link stays (not even the repository it would have created).
        if (status == LinkBlobStatus.Linked) scope.Commit();
        return status;
    }

    public async Task<long?> GetLinkedBlobSizeAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
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
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var removed = await connection.ExecuteAsync(Command(
                """
                DELETE FROM repository_blobs
                WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND digest = @digest
                """, new { repository, digest = digest.ToString() }, transaction, cancellationToken));
            if (removed > 0) await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return removed > 0;
        }, cancellationToken);

    public async Task<PutManifestResult> PutManifestAsync(string repository, NewManifest manifest, IReadOnlyList<string> tags, RegistryChange? change, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(tags);
        var parsed = manifest.Manifest;

        await using var scope = await _connections.BeginWriteAsync(cancellationToken);
        var connection = scope.Connection;
        var transaction = scope.Transaction;
        var now = Now();
        var repositoryId = await connection.ExecuteScalarAsync<long?>(Command(
            "SELECT id FROM repositories WHERE name = @repository", new { repository }, transaction, cancellationToken));

        // Decide on the references first: when one is missing, nothing is written (the scope rolls back).
        // A pull-through cache's copy comes before its blobs, which are fetched on demand.
        foreach (var blob in manifest.FromUpstream ? Enumerable.Empty<Wharf.Core.Manifests.Descriptor>() : parsed.RequiredBlobs)
        {
            if (repositoryId is null || !await ExistsAsync(connection, transaction,
                    "SELECT 1 FROM repository_blobs WHERE repository_id = @repositoryId AND digest = @digest",
                    new { repositoryId, digest = blob.Digest.ToString() }, cancellationToken))
            {
                return PutManifestResult.MissingReference(blob.Digest);
            }
        }
        foreach (var child in manifest.FromUpstream ? Enumerable.Empty<Wharf.Core.Manifests.Descriptor>() : parsed.Manifests)
        {
            if (repositoryId is null || !await ExistsAsync(connection, transaction,
                    "SELECT 1 FROM manifests WHERE repository_id = @repositoryId AND digest = @digest",
                    new { repositoryId, digest = child.Digest.ToString() }, cancellationToken))
            {
                return PutManifestResult.MissingReference(child.Digest);
            }
        }

        var digest = manifest.Digest.ToString();
        if (!manifest.FromUpstream && await SqlitePolicyStore.RefusalAsync(connection, transaction, repository, repositoryId, digest, parsed, tags, cancellationToken) is { } refused)
        {
            // A first push that the quota refuses leaves no empty repository behind (nor its links); anything else rolls back.
            if (refused.Status != PutManifestStatus.QuotaExceeded || repositoryId is not { } refusedIn) return refused;
            await AbandonedRepositories.RemoveRefusedAsync(connection, transaction, refusedIn, StoredText.RequiredBlobDigests(parsed), "", cancellationToken);
            scope.Commit();
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
                mediaType = manifest.MediaType,
                content = manifest.Content,
                size = (long)manifest.Content.Length,
                artifactType = parsed.ReferrerArtifactType,
                subject = parsed.Subject?.Digest.ToString(),
                annotations = parsed.AnnotationsJson,
                now,
            }, transaction, cancellationToken));

        if (manifestId is { } newId)
        {
            var references = new List<object>();
            if (parsed.Config is { } config) references.Add(new { id = newId, digest = config.Digest.ToString(), kind = "blob" });
            foreach (var layer in parsed.Layers) references.Add(new { id = newId, digest = layer.Digest.ToString(), kind = "blob" });
            foreach (var child in parsed.Manifests) references.Add(new { id = newId, digest = child.Digest.ToString(), kind = "manifest" });
            if (references.Count > 0)
            {
                await connection.ExecuteAsync(Command(
                    "INSERT INTO manifest_references (manifest_id, digest, kind) VALUES (@id, @digest, @kind) ON CONFLICT DO NOTHING",
                    references, transaction, cancellationToken));
            }
        }
        else
        {
            manifestId = await connection.ExecuteScalarAsync<long>(Command(
                "SELECT id FROM manifests WHERE repository_id = @repoId AND digest = @digest",
                new { repoId, digest }, transaction, cancellationToken));
        }

        // The manifest is a blob of the repository too (idempotent): an index may point at it and GET /blobs/<digest> serves it.
        // A blob row of the same digest that the collector is deleting is left alone: the manifest's bytes live here.
        await LinkBlobAsync(connection, transaction, repoId, digest, manifest.Content.Length, now, null, cancellationToken);

        if (tags.Count > 0)
        {
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (@repoId, @name, @manifestId, @now)
                ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
                WHERE tags.manifest_id <> excluded.manifest_id
                """,
                tags.Select(name => new { repoId, name, manifestId, now }), transaction, cancellationToken));
        }

        await _connections.JournalAsync(connection, transaction, change, cancellationToken);
        scope.Commit();
        return PutManifestResult.Stored();
    }

    public async Task<StoredManifest?> GetManifestAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
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
        await using var connection = await _connections.OpenAsync(cancellationToken);
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
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var text = digest.ToString();
            var row = await connection.QuerySingleOrDefaultAsync<ManifestKeyRow>(Command(
                """
                SELECT m.id AS Id, m.repository_id AS RepositoryId
                FROM manifests m JOIN repositories r ON r.id = m.repository_id
                WHERE r.name = @repository AND m.digest = @digest
                """, new { repository, digest = text }, transaction, cancellationToken));
            if (row is null) return DeleteResult.NotFound();
            // Under the writer gate: no push can tag the manifest between this check and the delete.
            if (await ImmutableTagHolds.OfManifestAsync(connection, transaction, row.RepositoryId, row.Id, cancellationToken) is { } refused) return refused;
            var args = new { id = row.Id, repositoryId = row.RepositoryId, digest = text };
            // Referrers whose subject is this manifest stay: they are manifests of their own.
            await connection.ExecuteAsync(Command("DELETE FROM tags WHERE manifest_id = @id", args, transaction, cancellationToken));
            await connection.ExecuteAsync(Command("DELETE FROM manifest_references WHERE manifest_id = @id", args, transaction, cancellationToken));
            await connection.ExecuteAsync(Command("DELETE FROM manifests WHERE id = @id", args, transaction, cancellationToken));
            // The link PutManifest added for the manifest's own bytes goes with it.
            await connection.ExecuteAsync(Command(
                "DELETE FROM repository_blobs WHERE repository_id = @repositoryId AND digest = @digest", args, transaction, cancellationToken));
            await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return DeleteResult.Deleted();
        }, cancellationToken);

    public Task<DeleteResult> DeleteTagAsync(string repository, string tag, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var repositoryId = await connection.ExecuteScalarAsync<long?>(Command(
                "SELECT repository_id FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND name = @tag",
                new { repository, tag }, transaction, cancellationToken));
            if (repositoryId is null) return DeleteResult.NotFound();
            if (await ImmutableTagHolds.OfTagAsync(connection, transaction, repositoryId.Value, tag, cancellationToken) is { } refused) return refused;
            await connection.ExecuteAsync(Command(
                "DELETE FROM tags WHERE repository_id = @repositoryId AND name = @tag", new { repositoryId, tag }, transaction, cancellationToken));
            await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return DeleteResult.Deleted();
        }, cancellationToken);

    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, string? last, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var sql = last is null
            ? """
              SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
              WHERE r.name = @repository ORDER BY t.name COLLATE BINARY LIMIT @limit
              """
            : """
              SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
              WHERE r.name = @repository AND t.name > @last ORDER BY t.name COLLATE BINARY LIMIT @limit
              """;
        var names = await connection.QueryAsync<string>(Command(sql, new { repository, last, limit }, null, cancellationToken));
        return names.AsList();
    }

    public async Task<IReadOnlyList<Referrer>> ListReferrersAsync(string repository, Digest subject, string? artifactType, CancellationToken cancellationToken)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var sql = """
                  SELECT m.digest AS Digest, m.media_type AS MediaType, m.size AS Size, m.artifact_type AS ArtifactType,
                         m.annotations AS Annotations
                  FROM manifests m JOIN repositories r ON r.id = m.repository_id
                  WHERE r.name = @repository AND m.subject_digest = @subject
                  """
                  + (artifactType is null ? "" : " AND m.artifact_type = @artifactType")
                  + " ORDER BY m.digest";
        var rows = await connection.QueryAsync<ReferrerRow>(Command(
            sql, new { repository, subject = subject.ToString(), artifactType }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    private static async Task<bool> ExistsAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, object parameters, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long?>(Command(sql, parameters, transaction, cancellationToken)) is not null;

    internal static async Task<long> EnsureRepositoryIdAsync(SqliteConnection connection, SqliteTransaction transaction, string repository, long now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(Command(
            "INSERT INTO repositories (name, created_at) VALUES (@repository, @now) ON CONFLICT (name) DO NOTHING",
            new { repository, now }, transaction, cancellationToken));
        return await connection.ExecuteScalarAsync<long>(Command(
            "SELECT id FROM repositories WHERE name = @repository", new { repository }, transaction, cancellationToken));
    }

    /// <summary>
    /// Links the blob under the writer gate (so the collector's compare-and-swap cannot interleave): refused when its row
    /// is <c>deleting</c>, or when there is no row and <paramref name="isStored"/> says the object is gone.
    /// </summary>
    private static async Task<LinkBlobStatus> LinkBlobAsync(
        SqliteConnection connection, SqliteTransaction transaction, long repositoryId, string digest, long size, long now,
        Func<CancellationToken, ValueTask<bool>>? isStored, CancellationToken cancellationToken)
    {
        var state = await connection.ExecuteScalarAsync<string?>(Command(
            "SELECT state FROM blobs WHERE digest = @digest", new { digest }, transaction, cancellationToken));
        if (state == "deleting") return LinkBlobStatus.Gone;
        if (state is null && isStored is not null && !await isStored(cancellationToken)) return LinkBlobStatus.Gone;
        await connection.ExecuteAsync(Command(
            """
            INSERT INTO blobs (digest, size, created_at, linked_at) VALUES (@digest, @size, @now, @now)
            ON CONFLICT (digest) DO UPDATE SET linked_at = excluded.linked_at;
            INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (@repositoryId, @digest, @now)
            ON CONFLICT (repository_id, digest) DO NOTHING;
            """, new { repositoryId, digest, size, now }, transaction, cancellationToken));
        return LinkBlobStatus.Linked;
    }
}
