using System.Globalization;
using Dapper;
using Npgsql;
using Wharf.Core.Builds;
using static Wharf.Data.PostgreSql.PostgreSqlText;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IBuildStore"/> on PostgreSQL. The queue is the <c>builds</c> table; workers on any node lease with
/// <c>FOR UPDATE SKIP LOCKED</c>, so they never wait for each other's candidate and never take the same build. The
/// per-namespace limit is checked again under a transaction-level advisory lock of the namespace, so workers leasing at
/// the same moment cannot together exceed it. Every build that reaches a final state (a worker's last update, a cancel
/// while queued, the queue's time-to-live) is handed to each <see cref="IPostgreSqlBuildJournal"/> inside the
/// transaction that stores it: the webhook outbox gets its <c>build</c> event.
/// </summary>
public sealed class PostgreSqlBuildStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null, IEnumerable<IPostgreSqlBuildJournal>? journals = null) : IBuildStore
{
    private readonly IPostgreSqlBuildJournal[] _journals = journals is null ? [] : [.. journals];

    private async Task JournalAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, CancellationToken cancellationToken)
    {
        if (_journals.Length == 0 || ids.Length == 0) return;
        var rows = await connection.QueryAsync<Row>(Command($"SELECT {Columns} FROM builds WHERE id = ANY(@ids) ORDER BY id", new { ids }, transaction, cancellationToken));
        foreach (var row in rows)
        {
            var build = row.ToRecord();
            foreach (var journal in _journals) await journal.BuildFinishedAsync(connection, transaction, build, cancellationToken);
        }
    }

    /// <summary>How many namespaces found full are skipped in one lease before giving up until the next wake-up.</summary>
    private const int MaxLeaseCandidates = 8;

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    private const string Columns =
        "id, owner, namespace, image, registry, repository, tag, source_kind, dockerfile_path, build_args, target, platform, " +
        "credential_id, use_dockerhub, state, build_status, push_status, attempts, build_runs, push_attempts, lease_owner, " +
        "lease_expires_at, cancel_requested, created_at, started_at, finished_at, error_kind, error_message, engine, local_image, " +
        "digest, pushed_reference, error_limit, secret_ids";

    public Task CreateAsync(BuildRecord build, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        var row = Row.From(build);
        return connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command(
            $"""
            INSERT INTO builds ({Columns}, queued_at)
            VALUES (@id, @owner, @namespace, @image, @registry, @repository, @tag, @source_kind, @dockerfile_path, @build_args, @target, @platform,
                    @credential_id, @use_dockerhub, @state, @build_status, @push_status, @attempts, @build_runs, @push_attempts, @lease_owner,
                    @lease_expires_at, @cancel_requested, @created_at, @started_at, @finished_at, @error_kind, @error_message, @engine, @local_image,
                    @digest, @pushed_reference, @error_limit, @secret_ids, @created_at)
            """, row, transaction, cancellationToken)), cancellationToken);
    }

    public async Task<BuildRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(Command($"SELECT {Columns} FROM builds WHERE id = @id", new { id }, null, cancellationToken));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<BuildRecord>> ListAsync(BuildFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var where = new List<string>();
        if (!filter.AnyOwner) where.Add(filter.Owner is null ? "owner IS NULL" : "owner = @owner");
        if (filter.Repository is not null) where.Add("repository = @repository");
        if (filter.State is not null) where.Add("state = @state");
        if (filter.After is not null) where.Add("(created_at, id) < (@afterAt, @afterId)");
        var sql = $"SELECT {Columns} FROM builds {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY created_at DESC, id DESC LIMIT @limit";
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(Command(sql, new
        {
            owner = filter.Owner,
            repository = filter.Repository,
            state = filter.State?.ToWire(),
            afterAt = filter.After?.CreatedAt.ToUnixTimeMilliseconds(),
            afterId = filter.After?.Id,
            limit = Math.Clamp(filter.Limit, 1, 1000),
        }, null, cancellationToken));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<BuildRecord?> LeaseNextAsync(string workerId, TimeSpan leaseDuration, TimeSpan queueTimeToLive, int perNamespaceLimit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var expired = await connection.QueryAsync<Guid>(Command(
                """
                UPDATE builds SET state = 'timed_out', finished_at = @now, error_kind = 'infrastructure', error_limit = 'QueueTimeToLive',
                       error_message = 'The build waited in the queue longer than the queue time-to-live (Wharf:Builds:QueueTimeToLive = ' || @ttl || ') and was not started.'
                WHERE state = 'queued' AND queued_at < @cutoff
                RETURNING id
                """,
                new { now, cutoff = now - (long)queueTimeToLive.TotalMilliseconds, ttl = queueTimeToLive.ToString("c", CultureInfo.InvariantCulture) },
                transaction, cancellationToken));
            await JournalAsync(connection, transaction, [.. expired], cancellationToken);
            var full = new List<string>();
            for (var candidate = 0; candidate < MaxLeaseCandidates; candidate++)
            {
                // Queued builds, and running builds whose worker stopped renewing (lease lapsed), taking turns across
                // namespaces: the namespace running the fewest builds first, then the one served longest ago, then the
                // oldest build in it. A build another worker is deciding on is skipped, not waited for.
                var next = await connection.QuerySingleOrDefaultAsync<(Guid Id, string Namespace)?>(Command(
                    """
                    SELECT b.id, b.namespace FROM builds b
                    WHERE (b.state = 'queued' OR (b.state = 'running' AND b.lease_expires_at < @now))
                      AND NOT (b.namespace = ANY(@full))
                      AND (SELECT COUNT(*) FROM builds r
                           WHERE r.namespace = b.namespace AND r.state = 'running' AND r.lease_expires_at >= @now) < @limit
                    ORDER BY (SELECT COUNT(*) FROM builds r
                              WHERE r.namespace = b.namespace AND r.state = 'running' AND r.lease_expires_at >= @now),
                             COALESCE((SELECT MAX(l.leased_at) FROM builds l WHERE l.namespace = b.namespace), 0),
                             b.queued_at, b.id
                    LIMIT 1
                    FOR UPDATE OF b SKIP LOCKED
                    """, new { now, limit = perNamespaceLimit, full = full.ToArray() }, transaction, cancellationToken));
                if (next is not { } found) return null;
                // Leases in one namespace take turns, then count again what the others committed meanwhile.
                await connection.ExecuteAsync(Command(
                    "SELECT pg_advisory_xact_lock(hashtextextended('wharf.builds.namespace:' || @ns, 0))", new { ns = found.Namespace }, transaction, cancellationToken));
                var running = await connection.ExecuteScalarAsync<long>(Command(
                    "SELECT COUNT(*) FROM builds WHERE namespace = @ns AND state = 'running' AND lease_expires_at >= @now AND id <> @id",
                    new { ns = found.Namespace, now, id = found.Id }, transaction, cancellationToken));
                if (running >= perNamespaceLimit)
                {
                    full.Add(found.Namespace);
                    continue;
                }
                var row = await connection.QuerySingleAsync<Row>(Command(
                    $"""
                    UPDATE builds SET state = 'running', lease_owner = @workerId, lease_expires_at = @expires, leased_at = @now,
                           attempts = attempts + 1, started_at = COALESCE(started_at, @now)
                    WHERE id = @id
                    RETURNING {Columns}
                    """, new { id = found.Id, workerId, now, expires = now + (long)leaseDuration.TotalMilliseconds }, transaction, cancellationToken));
                return row.ToRecord();
            }
            return null;
        }, cancellationToken);
    }

    public Task<BuildRecord?> RenewLeaseAsync(Guid id, string workerId, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            // A lease that already lapsed is not renewed: another worker may take the build any moment, so the one that
            // let it lapse must stop rather than run on beside it.
            var now = Now();
            var row = await connection.QuerySingleOrDefaultAsync<Row>(Command(
                $"UPDATE builds SET lease_expires_at = @expires WHERE id = @id AND state = 'running' AND lease_owner = @workerId AND lease_expires_at >= @now RETURNING {Columns}",
                new { id, workerId, now, expires = now + (long)leaseDuration.TotalMilliseconds }, transaction, cancellationToken));
            return row?.ToRecord();
        }, cancellationToken);

    public Task<bool> UpdateAsync(BuildRecord build, string workerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        var row = Row.From(build);
        var final = build.State.IsFinished();
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var changed = await connection.ExecuteAsync(Command(
                $"""
                UPDATE builds SET state = @state, build_status = @build_status, push_status = @push_status, build_runs = @build_runs,
                       push_attempts = @push_attempts, error_kind = @error_kind, error_message = @error_message, error_limit = @error_limit, engine = @engine,
                       local_image = @local_image, digest = @digest, pushed_reference = @pushed_reference,
                       finished_at = {(final ? "@finished_at" : "NULL")}
                       {(final ? ", lease_owner = NULL, lease_expires_at = NULL, cancel_requested = false" : "")}
                WHERE id = @id AND state = 'running' AND lease_owner = @workerId
                """, new
                {
                    row.id, row.state, row.build_status, row.push_status, row.build_runs, row.push_attempts, row.error_kind,
                    row.error_message, row.error_limit, row.engine, row.local_image, row.digest, row.pushed_reference,
                    finished_at = build.FinishedAt?.ToUnixTimeMilliseconds() ?? Now(), workerId,
                }, transaction, cancellationToken));
            if (changed > 0 && final) await JournalAsync(connection, transaction, [build.Id], cancellationToken);
            return changed > 0;
        }, cancellationToken);
    }

    public Task ReleaseAsync(Guid id, string workerId, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command(
            "UPDATE builds SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE id = @id AND state = 'running' AND lease_owner = @workerId",
            new { id, workerId }, transaction, cancellationToken)), cancellationToken);

    public Task<bool> RequeueAsync(Guid id, PhaseStatus buildStatus, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command(
                """
                UPDATE builds SET state = 'queued', build_status = @buildStatus, push_status = 'pending', queued_at = @now,
                       finished_at = NULL, error_kind = NULL, error_message = NULL, error_limit = NULL, lease_owner = NULL, lease_expires_at = NULL,
                       cancel_requested = false
                WHERE id = @id AND state NOT IN ('queued', 'running', 'succeeded')
                """, new { id, buildStatus = buildStatus.ToWire(), now = Now() }, transaction, cancellationToken)) > 0,
            cancellationToken);

    public Task<BuildRecord?> CancelAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            // The state before, under the row's lock: only a build that was queued ends here (and is journaled once).
            var before = await connection.ExecuteScalarAsync<string?>(Command(
                "SELECT state FROM builds WHERE id = @id FOR UPDATE", new { id }, transaction, cancellationToken));
            var row = await connection.QuerySingleOrDefaultAsync<Row>(Command(
                $"""
                UPDATE builds SET
                    state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
                    finished_at = CASE WHEN state = 'queued' THEN @now ELSE finished_at END,
                    error_kind = CASE WHEN state = 'queued' THEN NULL ELSE error_kind END,
                    error_message = CASE WHEN state = 'queued' THEN 'Cancelled before it started.' ELSE error_message END,
                    cancel_requested = (state = 'running') OR cancel_requested
                WHERE id = @id
                RETURNING {Columns}
                """, new { id, now = Now() }, transaction, cancellationToken));
            if (before == "queued") await JournalAsync(connection, transaction, [id], cancellationToken);
            return row?.ToRecord();
        }, cancellationToken);

    public Task AppendLogAsync(Guid id, IReadOnlyList<BuildLogLine> lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0) return Task.CompletedTask;
        return connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command(
            """
            INSERT INTO build_logs (build_id, seq, at, line)
            SELECT @id, l.seq, l.at, l.line FROM unnest(@seqs, @ats, @texts) AS l (seq, at, line)
            ON CONFLICT (build_id, seq) DO UPDATE SET at = excluded.at, line = excluded.line
            """,
            new
            {
                id,
                seqs = lines.Select(l => l.Sequence).ToArray(),
                ats = lines.Select(l => l.Time.ToUnixTimeMilliseconds()).ToArray(),
                texts = lines.Select(l => Clean(l.Text)).ToArray(),
            }, transaction, cancellationToken)), cancellationToken);
    }

    public async Task<IReadOnlyList<BuildLogLine>> ReadLogAsync(Guid id, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long seq, long at, string line)>(Command(
            "SELECT seq, at, line FROM build_logs WHERE build_id = @id AND seq > @afterSequence ORDER BY seq LIMIT @limit",
            new { id, afterSequence, limit = Math.Clamp(limit, 1, 100_000) }, null, cancellationToken));
        return rows.Select(r => new BuildLogLine(r.seq, DateTimeOffset.FromUnixTimeMilliseconds(r.at), r.line)).ToList();
    }

    public async Task<long> LastLogSequenceAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(Command(
            "SELECT MAX(seq) FROM build_logs WHERE build_id = @id", new { id }, null, cancellationToken)) ?? 0;
    }

    public async Task<BuildQueueCounts> CountActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var counts = await connection.QuerySingleAsync<(long Queued, long Running)>(Command(
            "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running') FROM builds WHERE state IN ('queued', 'running')",
            null, null, cancellationToken));
        return new BuildQueueCounts(counts.Queued, counts.Running);
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    // Dapper maps columns to these properties by name.
#pragma warning disable IDE1006, CA1707
    private sealed class Row
    {
        public Guid id { get; set; }
        public string? owner { get; set; }
        public string @namespace { get; set; } = "";
        public string image { get; set; } = "";
        public string? registry { get; set; }
        public string repository { get; set; } = "";
        public string tag { get; set; } = "";
        public string source_kind { get; set; } = "";
        public string dockerfile_path { get; set; } = "";
        public string build_args { get; set; } = "{}";
        public string? target { get; set; }
        public string? platform { get; set; }
        public Guid? credential_id { get; set; }
        public bool use_dockerhub { get; set; }
        public string state { get; set; } = "";
        public string build_status { get; set; } = "";
        public string push_status { get; set; } = "";
        public int attempts { get; set; }
        public int build_runs { get; set; }
        public int push_attempts { get; set; }
        public string? lease_owner { get; set; }
        public long? lease_expires_at { get; set; }
        public bool cancel_requested { get; set; }
        public long created_at { get; set; }
        public long? started_at { get; set; }
        public long? finished_at { get; set; }
        public string? error_kind { get; set; }
        public string? error_message { get; set; }
        public string? engine { get; set; }
        public string? local_image { get; set; }
        public string? digest { get; set; }
        public string? pushed_reference { get; set; }
        public string? error_limit { get; set; }
        public string secret_ids { get; set; } = "[]";

        public static Row From(BuildRecord b) => new()
        {
            id = b.Id,
            owner = b.Owner,
            @namespace = b.Namespace,
            image = b.Image,
            registry = b.Registry,
            repository = b.Repository,
            tag = b.Tag,
            source_kind = BuildText.Format(b.SourceKind),
            dockerfile_path = Clean(b.DockerfilePath)!,
            build_args = BuildText.FormatArgs(b.BuildArgs),
            target = b.Target,
            platform = b.Platform,
            credential_id = b.CredentialId,
            use_dockerhub = b.UseDockerHubSettings,
            state = b.State.ToWire(),
            build_status = b.BuildStatus.ToWire(),
            push_status = b.PushStatus.ToWire(),
            attempts = b.Attempts,
            build_runs = b.BuildRuns,
            push_attempts = b.PushAttempts,
            lease_owner = b.LeaseOwner,
            lease_expires_at = b.LeaseExpiresAt?.ToUnixTimeMilliseconds(),
            cancel_requested = b.CancelRequested,
            created_at = b.CreatedAt.ToUnixTimeMilliseconds(),
            started_at = b.StartedAt?.ToUnixTimeMilliseconds(),
            finished_at = b.FinishedAt?.ToUnixTimeMilliseconds(),
            error_kind = b.ErrorKind.ToWire(),
            error_message = Clean(b.ErrorMessage),
            engine = b.Engine,
            local_image = b.LocalImage,
            digest = b.Digest,
            pushed_reference = b.PushedReference,
            error_limit = b.ErrorLimit,
            secret_ids = BuildText.FormatIds(b.SecretIds),
        };

        public BuildRecord ToRecord() => new()
        {
            Id = id,
            Owner = owner,
            Namespace = @namespace,
            Image = image,
            Registry = registry,
            Repository = repository,
            Tag = tag,
            SourceKind = BuildText.ParseSourceKind(source_kind),
            DockerfilePath = dockerfile_path,
            BuildArgs = BuildText.ParseArgs(build_args),
            Target = target,
            Platform = platform,
            CredentialId = credential_id,
            UseDockerHubSettings = use_dockerhub,
            State = BuildText.ParseState(state),
            BuildStatus = BuildText.ParsePhase(build_status),
            PushStatus = BuildText.ParsePhase(push_status),
            Attempts = attempts,
            BuildRuns = build_runs,
            PushAttempts = push_attempts,
            LeaseOwner = lease_owner,
            LeaseExpiresAt = lease_expires_at is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null,
            CancelRequested = cancel_requested,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created_at),
            StartedAt = started_at is { } st ? DateTimeOffset.FromUnixTimeMilliseconds(st) : null,
            FinishedAt = finished_at is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
            ErrorKind = BuildText.ParseErrorKind(error_kind),
            ErrorMessage = error_message,
            Engine = engine,
            LocalImage = local_image,
            Digest = digest,
            PushedReference = pushed_reference,
            ErrorLimit = error_limit,
            SecretIds = BuildText.ParseIds(secret_ids),
        };
    }
#pragma warning restore IDE1006, CA1707
}
