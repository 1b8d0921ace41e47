using Dapper;
using Npgsql;
using Wharf.Core.Events;
using Wharf.Core.Policies;
using Wharf.Core.Retention;

namespace Wharf.Data.PostgreSql;

/// <summary><see cref="IRetentionStore"/> on PostgreSQL: the rules are columns of the repository; a tag delete is one statement that re-checks the tag (row locks order it against a push of the same tag).</summary>
public sealed class PostgreSqlRetentionStore(PostgreSqlConnections connections) : IRetentionStore
{
    public async Task<RetentionPolicy?> GetAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RetentionRow>(Command(RetentionSql.Get, new { repository }, null, cancellationToken));
        return row?.ToPolicy();
    }

    public Task<bool> SetAsync(string repository, RetentionPolicy policy, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(Command(RetentionSql.Set,
            new { repository, policy.KeepLast, policy.KeepPulledWithinDays, KeepTagsMatching = PostgreSqlText.Clean(policy.KeepTagsMatching) }, transaction, cancellationToken)) == 1,
            cancellationToken);

    public async Task<IReadOnlyList<RepositoryRetention>> ListAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RetentionRow>(Command(RetentionSql.List, new { after = after ?? "", limit }, null, cancellationToken));
        return [.. rows.Select(r => new RepositoryRetention(r.Name, r.ToPolicy(), ImmutableTagRules.FromStored(r.ImmutableTags)))];
    }

    public async Task<IReadOnlyList<RetainedTag>> ListTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RetainedTagRow>(Command(RetentionSql.ListTags, new { repository }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public Task<bool> TryDeleteTagAsync(string repository, RetainedTag tag, RegistryChange change, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            // Patterns set since the pass judged the tag count too: retention never deletes an immutable tag.
            var repositoryId = await connection.ExecuteScalarAsync<long?>(Command(RetentionSql.RepositoryId, new { repository }, transaction, cancellationToken));
            if (repositoryId is null || await ImmutableTagHolds.OfTagAsync(connection, transaction, repositoryId.Value, tag.Tag, cancellationToken) is not null) return false;
            var removed = await connection.ExecuteAsync(Command(RetentionSql.DeleteTagIfUnchanged, RetentionSql.DeleteTagArguments(repository, tag), transaction, cancellationToken));
            if (removed == 0) return false;
            await connections.JournalAsync(connection, transaction, change, cancellationToken);
            return true;
        }, cancellationToken);

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
