using System.Data.Common;
using Dapper;
using Wharf.Core.Policies;
using Wharf.Core.Registry;

namespace Wharf.Data;

/// <summary>
/// The immutable-tag check of every delete path (a tag, a manifest, a repository, a retention pass), made inside the
/// delete's own transaction on either provider: the patterns and the tags are read there, after the caller locked what
/// it deletes, so a push that lands a matching tag first is seen and one that comes later waits for the delete.
/// The statements read the same on SQLite and PostgreSQL.
/// </summary>
internal static class ImmutableTagHolds
{
    /// <summary>The refusal when <paramref name="tag"/> matches one of the repository's patterns; null when it may go.</summary>
    public static async Task<DeleteResult?> OfTagAsync(DbConnection connection, DbTransaction transaction, long repositoryId, string tag, CancellationToken cancellationToken)
    {
        var patterns = await PatternsAsync(connection, transaction, repositoryId, cancellationToken);
        return patterns.Count > 0 && ImmutableTagRules.MatchingRule(patterns, tag) is { } rule ? DeleteResult.Immutable(tag, rule) : null;
    }

    /// <summary>The refusal when one of the manifest's tags matches one of the repository's patterns; null when it may go.</summary>
    public static Task<DeleteResult?> OfManifestAsync(DbConnection connection, DbTransaction transaction, long repositoryId, long manifestId, CancellationToken cancellationToken) =>
        FirstHeldAsync(connection, transaction, repositoryId, "SELECT name FROM tags WHERE manifest_id = @manifestId ORDER BY name", new { manifestId }, cancellationToken);

    /// <summary>The refusal when one of the repository's tags matches one of its patterns; null when it may go.</summary>
    public static Task<DeleteResult?> OfRepositoryAsync(DbConnection connection, DbTransaction transaction, long repositoryId, CancellationToken cancellationToken) =>
        FirstHeldAsync(connection, transaction, repositoryId, "SELECT name FROM tags WHERE repository_id = @repositoryId ORDER BY name", new { repositoryId }, cancellationToken);

    private static async Task<DeleteResult?> FirstHeldAsync(
        DbConnection connection, DbTransaction transaction, long repositoryId, string tagsSql, object arguments, CancellationToken cancellationToken)
    {
        var patterns = await PatternsAsync(connection, transaction, repositoryId, cancellationToken);
        if (patterns.Count == 0) return null;
        foreach (var tag in await connection.QueryAsync<string>(new CommandDefinition(tagsSql, arguments, transaction, cancellationToken: cancellationToken)))
        {
            if (ImmutableTagRules.MatchingRule(patterns, tag) is { } rule) return DeleteResult.Immutable(tag, rule);
        }
        return null;
    }

    private static async Task<IReadOnlyList<string>> PatternsAsync(DbConnection connection, DbTransaction transaction, long repositoryId, CancellationToken cancellationToken) =>
        ImmutableTagRules.FromStored(await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT immutable_tags FROM repositories WHERE id = @repositoryId", new { repositoryId }, transaction, cancellationToken: cancellationToken)));
}
