using System.Data.Common;
using Dapper;

namespace Wharf.Data;

/// <summary>
/// A repository that only blob uploads made: the first push into a new repository links its layers (which creates the
/// repository row) before its manifest arrives. When the quota refuses that manifest, the push leaves nothing behind:
/// inside the refusing transaction its links go, and so does the repository when nothing else holds it — no manifest
/// ever, no settings made on it, no other upload's link. A repository someone created or configured stays. The
/// statements read the same on SQLite and PostgreSQL.
/// </summary>
internal static class AbandonedRepositories
{
    /// <summary>Nothing but blob links ever happened to the repository row <c>r</c>.</summary>
    private const string OnlyUploadsMadeIt = """
        r.push_count = 0 AND r.updated_at IS NULL AND r.description IS NULL AND r.readme IS NULL AND r.visibility IS NULL
        AND r.immutable_tags IS NULL AND r.retention_keep_last IS NULL AND r.retention_keep_pulled_days IS NULL AND r.retention_keep_matching IS NULL
        AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
        AND NOT EXISTS (SELECT 1 FROM cached_repositories c WHERE c.repository_id = r.id)
        """;

    /// <summary>
    /// Removes the refused push's links (<paramref name="blobs"/>) from a repository that only uploads made, then the
    /// repository when no link is left. <paramref name="lockRow"/> is the provider's row lock clause (PostgreSQL's
    /// <c>FOR UPDATE</c>, which waits for links in progress: they hold the row with <c>FOR KEY SHARE</c>); the checks that
    /// follow are new statements and see what those committed.
    /// </summary>
    public static async Task RemoveRefusedAsync(
        DbConnection connection, DbTransaction transaction, long repositoryId, IReadOnlyCollection<string> blobs, string lockRow, CancellationToken cancellationToken)
    {
        if (await connection.ExecuteScalarAsync<long?>(Command(
                $"SELECT id FROM repositories WHERE id = @repositoryId {lockRow}", new { repositoryId }, transaction, cancellationToken)) is null) return;
        if (await connection.ExecuteScalarAsync<long?>(Command(
                $"SELECT r.id FROM repositories r WHERE r.id = @repositoryId AND {OnlyUploadsMadeIt}", new { repositoryId }, transaction, cancellationToken)) is null) return;
        if (blobs.Count > 0)
        {
            // One statement a blob (a manifest names a handful): the same text on both providers.
            await connection.ExecuteAsync(Command(
                "DELETE FROM repository_blobs WHERE repository_id = @repositoryId AND digest = @digest",
                blobs.Select(digest => new { repositoryId, digest }).ToArray(), transaction, cancellationToken));
        }
        await connection.ExecuteAsync(Command(
            "DELETE FROM repositories WHERE id = @repositoryId AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = @repositoryId)",
            new { repositoryId }, transaction, cancellationToken));
    }

    private static CommandDefinition Command(string sql, object parameters, DbTransaction transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
