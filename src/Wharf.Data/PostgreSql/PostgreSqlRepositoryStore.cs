using System.Text;
using Dapper;
using Npgsql;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Search;
using static Wharf.Data.PostgreSql.PostgreSqlText;
using static Wharf.Data.StoredText;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IRepositoryStore"/> on PostgreSQL: repository columns and <c>manifest_details</c> from migration 0004, and
/// the generated, GIN-indexed <c>search</c> tsvector (name A, namespace B, description C, labels D). Descriptions and
/// labels are indexed through their search words (<see cref="StoredText.SearchWords"/>), split like queries are. Ranking
/// follows the same rules as SQLite: exact name, then names starting with the query, then relevance
/// (<c>ts_rank</c> with weights 1.0 / 0.4 / 0.2 / 0.1, whole words counted above prefixes, normalized by document length),
/// ties by name; broad queries order each tier by pulls instead.
/// </summary>
public sealed class PostgreSqlRepositoryStore : IRepositoryStore
{
    /// <summary>ts_rank weights in PostgreSQL's order {D, C, B, A}: labels, description, namespace, name (as bm25's 1, 2, 4, 10).</summary>
    private const string Weights = "'{0.1, 0.2, 0.4, 1.0}'::float4[]";

    /// <summary>Relevance: whole words weigh four times a prefix; normalization 1 divides by 1 + log(document length), so shorter documents rank first.</summary>
    private const string Rank =
        $"(4 * ts_rank({Weights}, r.search, to_tsquery('simple', @anyWhole), 1) + ts_rank({Weights}, r.search, to_tsquery('simple', @anyPrefix), 1))";

    private const string ShortName = "substr(r.name, strpos(r.name, '/') + 1)";

    /// <summary>0: the name (or the part after the namespace) is the query; 1: it starts with the query; 2: the rest.</summary>
    private const string TierExpression =
        $"CASE WHEN {ShortName} = @text OR r.name = @text THEN 0 " +
        $"WHEN starts_with({ShortName}, @text) OR starts_with(r.name, @text) THEN 1 ELSE 2 END";

    private const string HitColumns =
        "r.name AS Name, r.namespace AS Namespace, COALESCE(r.visibility, @defaultVisibility) AS Visibility, r.description AS Description, " +
        "r.pull_count AS PullCount, r.last_pushed_at AS LastPushedAt, r.created_at AS CreatedAt, r.updated_at AS UpdatedAt";

    private const string ReadableFilter =
        "(@isAdmin OR (@seesPublic AND COALESCE(r.visibility, @defaultVisibility) = 'public') OR r.namespace = ANY(@readable))";

    private readonly PostgreSqlConnections _connections;
    private readonly TimeProvider _time;
    private readonly int _relevanceRankedMatches;

    /// <param name="relevanceRankedMatches">See <see cref="DatabaseOptions.RelevanceRankedMatches"/>.</param>
    public PostgreSqlRepositoryStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null, int relevanceRankedMatches = 5_000)
    {
        ArgumentNullException.ThrowIfNull(connections);
        _connections = connections;
        _time = timeProvider ?? TimeProvider.System;
        _relevanceRankedMatches = relevanceRankedMatches;
    }

    public Task<CreateRepositoryOutcome> CreateAsync(string repository, RepositoryVisibility visibility, string? description, string? readme, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                """
                INSERT INTO repositories (name, created_at, visibility, description, description_words, readme, updated_at)
                VALUES (@repository, @now, @visibility, @description, @descriptionWords, @readme, @now)
                ON CONFLICT (name) DO NOTHING
                RETURNING id
                """,
                new
                {
                    repository,
                    now = Now(),
                    visibility = Format(visibility),
                    description = Clean(EmptyToNull(description)),
                    descriptionWords = SearchWords(description),
                    readme = Clean(EmptyToNull(readme)),
                }, transaction, cancellationToken));
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
            if (update.Description is not null) sets.Append(", description = @description, description_words = @descriptionWords");
            if (update.Readme is not null) sets.Append(", readme = @readme");
            if (update.Visibility is not null) sets.Append(", visibility = @visibility");
            var changed = await connection.ExecuteAsync(Command(
                $"UPDATE repositories SET {sets} WHERE name = @repository",
                new
                {
                    repository,
                    now = Now(),
                    description = Clean(EmptyToNull(update.Description)),
                    descriptionWords = SearchWords(update.Description),
                    readme = Clean(EmptyToNull(update.Readme)),
                    visibility = update.Visibility is { } v ? Format(v) : null,
                }, transaction, cancellationToken));
            if (changed > 0) await _connections.JournalAsync(connection, transaction, change, cancellationToken);
            return changed > 0;
        }, cancellationToken);

    public Task<DeleteResult> DeleteAsync(string repository, RegistryChange? change, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                "SELECT id FROM repositories WHERE name = @repository FOR UPDATE", new { repository }, transaction, cancellationToken));
            if (id is null) return DeleteResult.NotFound();
            // Locked: a push into the repository holds FOR KEY SHARE on it, so its tags are seen below or it waits.
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
        // Each order walks ix_tags_pushed (or the primary key, for names) from the cursor; row values keep the keyset
        // comparison to one index range. Names collate "C", so name order is byte order as on SQLite.
        var (order, seek) = query.Sort switch
        {
            TagSort.Oldest => ("t.updated_at ASC, t.name ASC", "(t.updated_at, t.name) > (@afterMs, @afterName)"),
            TagSort.NameAscending => ("t.name ASC", "t.name > @afterName"),
            TagSort.NameDescending => ("t.name DESC", "t.name < @afterName"),
            _ => ("t.updated_at DESC, t.name DESC", "(t.updated_at, t.name) < (@afterMs, @afterName)"),
        };
        var filters = new StringBuilder();
        if (query.After is not null) filters.Append(" AND ").Append(seek);
        if (query.NameContains is not null) filters.Append(" AND strpos(t.name, @nameContains) > 0");
        if (query.Platform is not null) filters.Append(" AND strpos(',' || d.platforms || ',', ',' || @platform || ',') > 0");
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<TagRow>(Command(
            $"""
            SELECT t.name AS Name, m.digest AS Digest, m.media_type AS MediaType, d.size AS Size, d.platforms AS Platforms,
                   t.updated_at AS PushedAt, t.last_pulled_at AS LastPulledAt
            FROM tags t
            JOIN manifests m ON m.id = t.manifest_id
            LEFT JOIN manifest_details d ON d.manifest_id = m.id
            WHERE t.repository_id = (SELECT id FROM repositories WHERE name = @repository){filters}
            ORDER BY {order} LIMIT @limit
            """,
            new
            {
                repository,
                afterMs = query.After?.PushedAtMs,
                afterName = query.After?.Name,
                nameContains = Clean(query.NameContains),
                platform = Clean(query.Platform),
                limit = query.Limit,
            }, null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
    }

    public async Task<IReadOnlyList<SearchHit>> ListRecentlyPushedAsync(ReadFilter filter, RepositoryVisibility? visibility, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        // Walks ix_repositories_pushed from the top, checking the read filter on the way.
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns} FROM repositories r
            WHERE r.last_pushed_at IS NOT NULL AND {ReadableFilter}
            {(visibility is null ? "" : "AND COALESCE(r.visibility, @defaultVisibility) = @visibility")}
            ORDER BY r.last_pushed_at DESC, r.name LIMIT @limit
            """, FilterArgs(filter, new { limit, visibility = visibility is { } v ? Format(v) : null }), null, cancellationToken));
        return [.. rows.Select(r => r.ToModel())];
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
            ORDER BY r.name LIMIT @limit
            """, FilterArgs(filter, new { @namespace, after, limit }), null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public async Task<IReadOnlyList<string>> ListNamesAsync(ReadFilter filter, string? after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var sql = filter.Access.IsAdmin
            ? $"SELECT r.name FROM repositories r {(after is null ? "" : "WHERE r.name > @after")} ORDER BY r.name LIMIT @limit"
            : $"SELECT r.name FROM repositories r WHERE {ReadableFilter} {(after is null ? "" : "AND r.name > @after")} ORDER BY r.name LIMIT @limit";
        return (await connection.QueryAsync<string>(Command(sql, FilterArgs(filter, new { after, limit }), null, cancellationToken))).AsList();
    }

    public async Task<IReadOnlyList<SearchHit>> SearchAsync(SearchQuery query, ReadFilter filter, string? @namespace, RepositoryVisibility? visibility, int offset, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0 || query.IsEmpty) return [];
        await using var connection = await _connections.OpenAsync(cancellationToken);
        var match = PostgreSqlSearchQuery.Match(query);
        // Counting stops one past the limit: enough to tell a narrow query from a broad one without counting every match.
        var matches = await connection.ExecuteScalarAsync<long>(Command(
            "SELECT COUNT(*) FROM (SELECT 1 FROM repositories WHERE search @@ to_tsquery('simple', @match) LIMIT @cap) AS m",
            new { match, cap = (long)_relevanceRankedMatches + 1 }, null, cancellationToken));
        var filters = $"""
            {(@namespace is null ? "" : "AND r.namespace = @namespace")}
            {(visibility is null ? "" : "AND COALESCE(r.visibility, @defaultVisibility) = @visibility")}
            """;
        var args = FilterArgs(filter, new
        {
            text = query.Text,
            match,
            nameMatch = PostgreSqlSearchQuery.NameMatch(query),
            anyWhole = PostgreSqlSearchQuery.AnyWhole(query),
            anyPrefix = PostgreSqlSearchQuery.AnyPrefix(query),
            @namespace,
            visibility = visibility is { } v ? Format(v) : null,
            limit,
            offset,
        });
        if (matches > _relevanceRankedMatches) return await BroadSearchAsync(connection, filters, args, offset, limit, cancellationToken);
        var rows = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, {TierExpression} AS Tier
            FROM repositories r
            WHERE r.search @@ to_tsquery('simple', @match) AND {ReadableFilter}
            {filters}
            ORDER BY Tier, {Rank} DESC, r.name
            LIMIT @limit OFFSET @offset
            """, args, null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    /// <summary>
    /// A broad query, in two steps that each touch only a page's worth of rows: the exact and prefix name matches (found
    /// through the name and namespace weights of the index: few), then the rest of the matches walked from the most
    /// pulled down along <c>ix_repositories_pulls</c> until the page is full.
    /// </summary>
    private static async Task<IReadOnlyList<SearchHit>> BroadSearchAsync(
        NpgsqlConnection connection, string filters, DynamicParameters args, int offset, int limit, CancellationToken cancellationToken)
    {
        var named = (await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, {TierExpression} AS Tier
            FROM repositories r
            WHERE r.search @@ to_tsquery('simple', @nameMatch) AND {ReadableFilter}
            {filters}
            AND {TierExpression} < 2
            ORDER BY Tier, r.pull_count DESC, r.name
            """, args, null, cancellationToken))).AsList();
        var hits = named.Skip(offset).Take(limit).Select(r => r.ToModel()).ToList();
        if (hits.Count == limit) return hits;
        args.Add("restLimit", limit - hits.Count);
        args.Add("restOffset", Math.Max(0, offset - named.Count));
        var rest = await connection.QueryAsync<HitRow>(Command(
            $"""
            SELECT {HitColumns}, 2 AS Tier
            FROM repositories r
            WHERE r.search @@ to_tsquery('simple', @match) AND {ReadableFilter}
            {filters}
            AND {TierExpression} = 2
            ORDER BY r.pull_count DESC, r.name
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
            ORDER BY r.pull_count DESC, r.name LIMIT @limit
            """, FilterArgs(filter, new { @namespace, visibility = visibility is { } v ? Format(v) : null, afterPulls = after?.PullCount, afterName = after?.Name, limit }),
            null, cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    public async Task<int> CountSearchAsync(SearchQuery query, ReadFilter filter, CancellationToken cancellationToken)
    {
        if (query.IsEmpty) return 0;
        await using var connection = await _connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(Command(
            $"SELECT COUNT(*) FROM repositories r WHERE r.search @@ to_tsquery('simple', @match) AND {ReadableFilter}",
            FilterArgs(filter, new { match = PostgreSqlSearchQuery.Match(query) }), null, cancellationToken));
    }

    public Task RecordPushAsync(string repository, Digest digest, ManifestDetails details, bool tagged, DateTimeOffset at, CancellationToken cancellationToken) =>
        _connections.WriteAsync(async (connection, transaction) =>
        {
            var now = at.ToUnixTimeMilliseconds();
            var labels = Clean(LabelsText(details.Labels));
            var id = await connection.ExecuteScalarAsync<long?>(Command(
                tagged
                    ? "UPDATE repositories SET push_count = push_count + 1, last_pushed_at = @now, updated_at = @now, labels = @labels, label_words = @labelWords WHERE name = @repository RETURNING id"
                    : "UPDATE repositories SET push_count = push_count + 1, last_pushed_at = @now WHERE name = @repository RETURNING id",
                new { repository, now, labels, labelWords = SearchWords(labels) }, transaction, cancellationToken));
            if (id is null) return false;
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO manifest_details (manifest_id, size, platforms, labels)
                SELECT m.id, @size, @platforms, @labels FROM manifests m WHERE m.repository_id = @id AND m.digest = @digest
                ON CONFLICT (manifest_id) DO UPDATE SET size = excluded.size, platforms = excluded.platforms, labels = excluded.labels
                """,
                new { id, digest = digest.ToString(), size = details.Size, platforms = Clean(JoinPlatforms(details.Platforms)), labels = Clean(LabelsJson(details.Labels)) },
                transaction, cancellationToken));
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
            WHERE m.repository_id = (SELECT id FROM repositories WHERE name = @repository) AND m.digest = ANY(@digests)
            """, new { repository, digests = digests.Select(d => d.ToString()).ToArray() }, null, cancellationToken));
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
            // One statement per table, rows in name order so that concurrent flushes of several nodes lock them in the same order.
            var ordered = counts.OrderBy(c => c.Repository, StringComparer.Ordinal).ToList();
            await connection.ExecuteAsync(Command(
                """
                UPDATE repositories r SET pull_count = r.pull_count + c.count, last_pulled_at = GREATEST(COALESCE(r.last_pulled_at, 0), c.at)
                FROM unnest(@names, @counts, @ats) AS c (name, count, at)
                WHERE r.name = c.name
                """,
                new
                {
                    names = ordered.Select(c => c.Repository).ToArray(),
                    counts = ordered.Select(c => c.Count).ToArray(),
                    ats = ordered.Select(c => c.LastPulledAt.ToUnixTimeMilliseconds()).ToArray(),
                }, transaction, cancellationToken));
            var tags = ordered.SelectMany(c => c.TagsPulledAt.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (c.Repository, Tag: t.Key, At: t.Value.ToUnixTimeMilliseconds()))).ToList();
            if (tags.Count > 0)
            {
                await connection.ExecuteAsync(Command(
                    """
                    UPDATE tags t SET last_pulled_at = GREATEST(COALESCE(t.last_pulled_at, 0), p.at)
                    FROM unnest(@repositories, @tags, @ats) AS p (repository, tag, at)
                    JOIN repositories r ON r.name = p.repository
                    WHERE t.repository_id = r.id AND t.name = p.tag
                    """,
                    new
                    {
                        repositories = tags.Select(t => t.Repository).ToArray(),
                        tags = tags.Select(t => t.Tag).ToArray(),
                        ats = tags.Select(t => t.At).ToArray(),
                    }, transaction, cancellationToken));
            }
            return true;
        }, cancellationToken);
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static DynamicParameters FilterArgs(ReadFilter filter, object extra)
    {
        var args = new DynamicParameters(extra);
        args.Add("isAdmin", filter.Access.IsAdmin);
        args.Add("seesPublic", filter.Access.SeesPublic);
        args.Add("readable", filter.Access.ReadableNamespaces.ToArray());
        args.Add("defaultVisibility", Format(filter.DefaultVisibility));
        return args;
    }


    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);




}
