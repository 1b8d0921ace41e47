using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Search;
using static Wharf.Data.StoredText;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IRepositoryStore"/> on SQLite: repository columns and <c>manifest_details</c> from migration 0004, and
/// the FTS5 table <c>repository_search</c>, which triggers on <c>repositories</c> keep in step (so repositories
/// created by a push are searchable at once). Listings filter in SQL by what the caller may read.
/// </summary>
public sealed class SqliteRepositoryStore : IRepositoryStore
{
    /// <summary>bm25 column weights: name, namespace, description, labels.</summary>
    private const string Rank = "bm25(repository_search, 10.0, 4.0, 2.0, 1.0)";

    private const string ShortName = "substr(r.name, instr(r.name, '/') + 1)";

    /// <summary>0: the name (or the part after the namespace) is the query; 1: it starts with the query; 2: the rest.</summary>
    private const string TierExpression =
        $"CASE WHEN {ShortName} = @text OR r.name = @text THEN 0 " +
        $"WHEN substr({ShortName}, 1, length(@text)) = @text OR substr(r.name, 1, length(@text)) = @text THEN 1 ELSE 2 END";

    private const string HitColumns =
        "r.name AS Name, r.namespace AS Namespace, COALESCE(r.visibility, @defaultVisibility) AS Visibility, r.description AS Description, " +
        "r.pull_count AS PullCount, r.last_pushed_at AS LastPushedAt, r.created_at AS CreatedAt, r.updated_at AS UpdatedAt";

    private const string ReadableFilter =
        "(@isAdmin = 1 OR (@seesPublic = 1 AND COALESCE(r.visibility, @defaultVisibility) = 'public') OR r.namespace IN @readable)";

    private readonly SqliteConnectionFactory _connections;
    private readonly TimeProvider _time;
    private readonly int _relevanceRankedMatches;

    /// <param name="relevanceRankedMatches">See <see cref="DatabaseOptions.RelevanceRankedMatches"/>.</param>
    public SqliteRepositoryStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null, int relevanceRankedMatches = 5_000)
    {
        ArgumentNullException.ThrowIfNull(connections);
        _connections = connections;
        _time = timeProvider ?? TimeProvider.System;
        _relevanceRankedMatches = relevanceRankedMatches;
    }

    public Task<CreateRepositoryOutcome> CreateAsync(string repository, RepositoryVisibility visibility, string? description, string? readme, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                """
                INSERT INTO repositories (name, created_at, visibility, description, readme, updated_at)
                VALUES (@repository, @now, @visibility, @description, @readme, @now)
                ON CONFLICT (name) DO NOTHING
                RETURNING id
                """,
                new { repository, now, visibility = Format(visibility), description = EmptyToNull(description), readme = EmptyToNull(readme) },
                transaction, cancellationToken));
            if (id is null) return CreateRepositoryOutcome.Exists;
            await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return CreateRepositoryOutcome.Created;
        }, cancellationToken);

    public Task<RepositoryInfo?> GetAsync(string repository, RepositoryVisibility defaultVisibility, CancellationToken cancellationToken) =>
        GetAsync(repository, defaultVisibility, null, cancellationToken);

    public Task<RepositoryInfo?> GetAsync(string repository, RepositoryVisibility defaultVisibility, int tagCountLimit, CancellationToken cancellationToken) =>
        GetAsync(repository, defaultVisibility, (int?)Math.Max(0, tagCountLimit), cancellationToken);

    private async Task<RepositoryInfo?> GetAsync(string repository, RepositoryVisibility defaultVisibility, int? tagCountLimit, CancellationToken cancellationToken)
    {
        // A limited count reads at most that many index entries of the repository's tags.
        var tagCount = tagCountLimit is null
            ? "(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id)"
            : "(SELECT COUNT(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = r.id LIMIT @tagCountLimit) AS counted)";
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RepositoryRow>(Command(
            $"""
            SELECT r.name AS Name, r.namespace AS Namespace, COALESCE(r.visibility, @defaultVisibility) AS Visibility,
                   r.description AS Description, r.readme AS Readme, r.created_at AS CreatedAt, r.updated_at AS UpdatedAt,
                   r.push_count AS PushCount, r.pull_count AS PullCount, r.last_pushed_at AS LastPushedAt, r.last_pulled_at AS LastPulledAt,
                   {tagCount} AS TagCount
            FROM repositories r WHERE r.name = @repository
            """, new { repository, defaultVisibility = Format(defaultVisibility), tagCountLimit }, null, cancellationToken));
        return row?.ToModel();
    }

    public Task<bool> UpdateAsync(string repository, RepositoryUpdate update, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var sets = new StringBuilder("updated_at = @now");
            if (update.Description is not null) sets.Append(", description = @description");
            if (update.Readme is not null) sets.Append(", readme = @readme");
            if (update.Visibility is not null) sets.Append(", visibility = @visibility");
            var changed = await connection.ExecuteAsync(Command(
                $"UPDATE repositories SET {sets} WHERE name = @repository",
                new
                {
                    repository,
                    now = _time.GetUtcNow().ToUnixTimeMilliseconds(),
                    description = EmptyToNull(update.Description),
                    readme = EmptyToNull(update.Readme),
                    visibility = update.Visibility is { } v ? Format(v) : null,
                }, transaction, cancellationToken));
            if (changed > 0) await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return changed > 0;
        }, cancellationToken);

    public Task<DeleteResult> DeleteAsync(string repository, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                "SELECT id FROM repositories WHERE name = @repository", new { repository }, transaction, cancellationToken));
            if (id is null) return DeleteResult.NotFound();
            // Under the writer gate: no push can add a tag between this check and the delete.
            if (await ImmutableTagHolds.OfRepositoryAsync(connection, transaction, id.Value, cancellationToken) is { } refused) return refused;
            var digests = (await connection.QueryAsync<string>(Command(
                "SELECT digest FROM manifests WHERE repository_id = @id", new { id }, transaction, cancellationToken))).Select(Digest.Parse).ToList();
            // Tags, manifests (with their references and details) and blob links cascade; blobs stay for garbage collection.
            await connection.ExecuteAsync(Command("DELETE FROM repositories WHERE id = @id", new { id }, transaction, cancellationToken));
            await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return DeleteResult.Deleted(digests);
        }, cancellationToken);

    public Task<IReadOnlyList<TagDetails>> ListTagsAsync(string repository, string? after, int limit, CancellationToken cancellationToken) =>
        QueryTagsAsync(repository, new TagQuery(TagSort.NameAscending, null, null, after is null ? null : new TagCursor(TagSort.NameAscending, 0, after), limit), cancellationToken);

    public async Task<IReadOnlyList<TagDetails>> QueryTagsAsync(string repository, TagQuery query, CancellationToken cancellationToken)
    {
        if (query.Limit <= 0) return [];
        // Each order walks ix_tags_pushed (or the primary key, for names) from the cursor and stops once the page is
        // full; the filters are checked on the way. Row values keep the keyset comparison to one index range. CROSS JOIN
        // keeps tags as the outer loop: the planner would otherwise start from a manifest shared by many tags and sort
        // them all (100,000 tags on one image: 50 ms instead of under 1 ms).
        var (order, seek) = query.Sort switch
        {
            TagSort.Oldest => ("t.updated_at ASC, t.name ASC", "(t.updated_at, t.name) > (@afterMs, @afterName)"),
            TagSort.NameAscending => ("t.name ASC", "t.name > @afterName"),
            TagSort.NameDescending => ("t.name DESC", "t.name < @afterName"),
            _ => ("t.updated_at DESC, t.name DESC", "(t.updated_at, t.name) < (@afterMs, @afterName)"),
        };
        var filters = new StringBuilder();
        if (query.After is not null) filters.Append(" AND ").Append(seek);
        if (query.NameContains is not null) filters.Append(" AND instr(t.name, @nameContains) > 0");
        if (query.Platform is not null) filters.Append(" AND instr(',' || d.platforms || ',', ',' || @platform || ',') > 0");
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<TagRow>(Command(
            $"""
            SELECT t.name AS Name, m.digest AS Digest, m.media_type AS MediaType, d.size AS Size, d.platforms AS Platforms,
                   t.updated_at AS PushedAt, t.last_pulled_at AS LastPulledAt
            FROM tags t
            CROSS JOIN manifests m ON m.id = t.manifest_id
            LEFT JOIN manifest_details d ON d.manifest_id = m.id
            WHERE t.repository_id = (SELECT id FROM repositories WHERE name = @repository){filters}
            ORDER BY {order} LIMIT @limit
            """,
            new
            {
                repository,
                afterMs = query.After?.PushedAtMs,
                afterName = query.After?.Name,
                nameContains = query.NameContains,
                platform = query.Platform,
                limit = query.Limit,
            }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public async Task<IReadOnlyList<SearchHit>> ListRecentlyPushedAsync(ReadFilter filter, RepositoryVisibility? visibility, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        // Walks ix_repositories_pushed from the top, checking the read filter on the way: a page never sorts every row.
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns} FROM repositories r
            WHERE r.last_pushed_at IS NOT NULL AND {ReadableFilter}
            {(visibility is null ? "" : "AND COALESCE(r.visibility, @defaultVisibility) = @visibility")}
            ORDER BY r.last_pushed_at DESC, r.name LIMIT @limit
            """, FilterArgs(filter, new { limit, visibility = visibility is { } v ? Format(v) : null }), null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public async Task<IReadOnlyList<SearchHit>> ListAsync(ReadFilter filter, string? @namespace, string? after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns} FROM repositories r
            WHERE {ReadableFilter}
            {(@namespace is null ? "" : "AND r.namespace = @namespace")}
            {(after is null ? "" : "AND r.name > @after")}
            ORDER BY r.name COLLATE BINARY LIMIT @limit
            """, FilterArgs(filter, new { @namespace, after, limit }), null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public async Task<IReadOnlyList<string>> ListNamesAsync(ReadFilter filter, string? after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var sql = filter.Access.IsAdmin
            ? $"SELECT r.name FROM repositories r {(after is null ? "" : "WHERE r.name > @after")} ORDER BY r.name COLLATE BINARY LIMIT @limit"
            : $"SELECT r.name FROM repositories r WHERE {ReadableFilter} {(after is null ? "" : "AND r.name > @after")} ORDER BY r.name COLLATE BINARY LIMIT @limit";
        var names = await connection.QueryAsync<string>(Command(sql, FilterArgs(filter, new { after, limit }), null, cancellationToken));
        return names.AsList();
    }

    public async Task<IReadOnlyList<SearchHit>> SearchAsync(SearchQuery query, ReadFilter filter, string? @namespace, RepositoryVisibility? visibility, int offset, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0 || query.IsEmpty) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        // Counting the raw full-text matches is cheap (no ranking, no join) and tells a narrow query from a broad one.
        var matches = await connection.ExecuteScalarAsync<long>(Command(
            "SELECT COUNT(*) FROM repository_search WHERE repository_search MATCH @match", new { match = SqliteSearchExpression.Match(query) }, null, cancellationToken));
        var broad = matches > _relevanceRankedMatches;
        var filters = $"""
            {(@namespace is null ? "" : "AND r.namespace = @namespace")}
            {(visibility is null ? "" : "AND COALESCE(r.visibility, @defaultVisibility) = @visibility")}
            """;
        var args = (DynamicParameters)FilterArgs(filter, new { text = query.Text, match = SqliteSearchExpression.Match(query), nameMatch = SqliteSearchExpression.NameMatch(query), @namespace, visibility = visibility is { } v ? Format(v) : null, limit, offset });
        if (broad) return await BroadSearchAsync(connection, filters, args, offset, limit, cancellationToken);
        // Exact name matches first, then names that start with the query, then the rest, each tier by bm25.
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, {TierExpression} AS Tier
            FROM repository_search s JOIN repositories r ON r.id = s.rowid
            WHERE repository_search MATCH @match AND {ReadableFilter}
            {filters}
            ORDER BY Tier, {Rank}, r.name COLLATE BINARY
            LIMIT @limit OFFSET @offset
            """, args, null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    /// <summary>
    /// A broad query, in two steps that each touch only a page's worth of rows: the exact and prefix name matches (found
    /// through the name column of the index: few), then the rest of the matches walked from the most pulled down along
    /// <c>ix_repositories_pulls</c> until the page is full. The match set is only probed (<c>+r.id</c> keeps SQLite from
    /// driving the query from it), so nothing sorts 100,000 rows.
    /// </summary>
    private static async Task<IReadOnlyList<SearchHit>> BroadSearchAsync(
        SqliteConnection connection, string filters, DynamicParameters args, int offset, int limit, CancellationToken cancellationToken)
    {
        var named = (await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, {TierExpression} AS Tier
            FROM repositories r
            WHERE r.id IN (SELECT rowid FROM repository_search WHERE repository_search MATCH @nameMatch) AND {ReadableFilter}
            {filters}
            AND {TierExpression} < 2
            ORDER BY Tier, r.pull_count DESC, r.name COLLATE BINARY
            """, args, null, cancellationToken))).AsList();
        var hits = named.Skip(offset).Take(limit).Select(r => r.ToModel()).ToList();
        if (hits.Count == limit) return hits;
        args.Add("restLimit", limit - hits.Count);
        args.Add("restOffset", Math.Max(0, offset - named.Count));
        var rest = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, 2 AS Tier
            FROM repositories r
            WHERE +r.id IN (SELECT rowid FROM repository_search WHERE repository_search MATCH @match) AND {ReadableFilter}
            {filters}
            AND {TierExpression} = 2
            ORDER BY r.pull_count DESC, r.name COLLATE BINARY
            LIMIT @restLimit OFFSET @restOffset
            """, args, null, cancellationToken));
        hits.AddRange(rest.Select(r => r.ToModel()));
        return hits;
    }

    public async Task<IReadOnlyList<SearchHit>> BrowseAsync(ReadFilter filter, string? @namespace, RepositoryVisibility? visibility, BrowsePosition? after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        // Walks ix_repositories_pulls (pull_count DESC, name) from the keyset position: a page reads a page of rows.
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns} FROM repositories r
            WHERE {ReadableFilter}
            {(@namespace is null ? "" : "AND r.namespace = @namespace")}
            {(visibility is null ? "" : "AND COALESCE(r.visibility, @defaultVisibility) = @visibility")}
            {(after is null ? "" : "AND (r.pull_count < @afterPulls OR (r.pull_count = @afterPulls AND r.name > @afterName))")}
            ORDER BY r.pull_count DESC, r.name COLLATE BINARY LIMIT @limit
            """, FilterArgs(filter, new { @namespace, visibility = visibility is { } v ? Format(v) : null, afterPulls = after?.PullCount, afterName = after?.Name, limit }),
            null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public async Task<int> CountSearchAsync(SearchQuery query, ReadFilter filter, CancellationToken cancellationToken)
    {
        if (query.IsEmpty) return 0;
        await using var connection = await _connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(Command(
            $"""
            SELECT COUNT(*) FROM repository_search s JOIN repositories r ON r.id = s.rowid
            WHERE repository_search MATCH @match AND {ReadableFilter}
            """, FilterArgs(filter, new { match = SqliteSearchExpression.Match(query) }), null, cancellationToken));
    }

    public Task RecordPushAsync(string repository, Digest digest, ManifestDetails details, bool tagged, DateTimeOffset at, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var now = at.ToUnixTimeMilliseconds();
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                tagged
                    ? "UPDATE repositories SET push_count = push_count + 1, last_pushed_at = @now, updated_at = @now, labels = @labels WHERE name = @repository RETURNING id"
                    : "UPDATE repositories SET push_count = push_count + 1, last_pushed_at = @now WHERE name = @repository RETURNING id",
                new { repository, now, labels = LabelsText(details.Labels) }, transaction, cancellationToken));
            if (id is null) return false;
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO manifest_details (manifest_id, size, platforms, labels)
                SELECT m.id, @size, @platforms, @labels FROM manifests m WHERE m.repository_id = @id AND m.digest = @digest
                ON CONFLICT (manifest_id) DO UPDATE SET size = excluded.size, platforms = excluded.platforms, labels = excluded.labels
                """,
                new
                {
                    id,
                    digest = digest.ToString(),
                    size = details.Size,
                    platforms = details.Platforms.Count == 0 ? null : string.Join(',', details.Platforms),
                    labels = LabelsJson(details.Labels),
                }, transaction, cancellationToken));
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyDictionary<Digest, ManifestDetails>> GetDetailsAsync(string repository, IReadOnlyList<Digest> digests, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Digest, ManifestDetails>();
        if (digests.Count == 0) return found;
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<DetailsRow>(Command(
            """
            SELECT m.digest AS Digest, d.size AS Size, d.platforms AS Platforms, d.labels AS Labels
            FROM manifests m JOIN manifest_details d ON d.manifest_id = m.id
            WHERE m.repository_id = (SELECT id FROM repositories WHERE name = @repository) AND m.digest IN @digests
            """, new { repository, digests = digests.Select(d => d.ToString()).ToList() }, null, cancellationToken));
        foreach (var row in rows)
        {
            found[Digest.Parse(row.Digest)] = row.ToModel();
        }
        return found;
    }

    public Task AddPullsAsync(IReadOnlyList<PullCounts> counts, CancellationToken cancellationToken)
    {
        if (counts.Count == 0) return Task.CompletedTask;
        return _connections.WriteAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync(Command(
                """
                UPDATE repositories SET pull_count = pull_count + @count, last_pulled_at = max(COALESCE(last_pulled_at, 0), @at)
                WHERE name = @repository
                """,
                counts.Select(c => new { repository = c.Repository, count = c.Count, at = c.LastPulledAt.ToUnixTimeMilliseconds() }),
                transaction, cancellationToken));
            var tags = counts.SelectMany(c => c.TagsPulledAt.Select(t => new { repository = c.Repository, tag = t.Key, at = t.Value.ToUnixTimeMilliseconds() })).ToList();
            if (tags.Count > 0)
            {
                await connection.ExecuteAsync(Command(
                    """
                    UPDATE tags SET last_pulled_at = max(COALESCE(last_pulled_at, 0), @at)
                    WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND name = @tag
                    """, tags, transaction, cancellationToken));
            }
            return true;
        }, cancellationToken);
    }

    private static object FilterArgs(ReadFilter filter, object extra)
    {
        var args = new DynamicParameters(extra);
        args.Add("isAdmin", filter.Access.IsAdmin ? 1 : 0);
        args.Add("seesPublic", filter.Access.SeesPublic ? 1 : 0);
        args.Add("readable", filter.Access.ReadableNamespaces);
        args.Add("defaultVisibility", Format(filter.DefaultVisibility));
        return args;
    }











    private static CommandDefinition Command(string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);




}
