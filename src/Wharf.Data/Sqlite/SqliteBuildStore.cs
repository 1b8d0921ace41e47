using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Builds;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IBuildStore"/> on SQLite. The queue is the <c>builds</c> table: leasing, renewing and finishing are
/// guarded updates in one writer transaction each, so two workers never hold the same build.
/// </summary>
/// <remarks>
/// Every write that ends a build (the worker's last update, a cancel of a queued build, the queue's time-to-live) tells
/// each <see cref="ISqliteBuildJournal"/> inside its transaction: the webhook outbox gets its <c>build</c> event.
/// </remarks>
public sealed class SqliteBuildStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null, IEnumerable<ISqliteBuildJournal>? journals = null) : IBuildStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ISqliteBuildJournal[] _journals = journals is null ? [] : [.. journals];

    private async Task JournalAsync(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        if (_journals.Length == 0) return;
        foreach (var id in ids)
        {
            var row = await connection.QuerySingleAsync<Row>(new CommandDefinition(
                $"SELECT {Columns} FROM builds WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            var build = row.ToRecord();
            foreach (var journal in _journals) await journal.BuildFinishedAsync(connection, transaction, build, cancellationToken);
        }
    }

    private const string Columns =
        "id, owner, namespace, image, registry, repository, tag, source_kind, dockerfile_path, build_args, target, platform, " +
        "credential_id, use_dockerhub, state, build_status, push_status, attempts, build_runs, push_attempts, lease_owner, " +
        "lease_expires_at, cancel_requested, created_at, started_at, finished_at, error_kind, error_message, engine, local_image, " +
        "digest, pushed_reference, error_limit, secret_ids";

    public Task CreateAsync(BuildRecord build, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        var row = Row.From(build);
        return connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO builds ({Columns}, queued_at)
            VALUES (@id, @owner, @namespace, @image, @registry, @repository, @tag, @source_kind, @dockerfile_path, @build_args, @target, @platform,
                    @credential_id, @use_dockerhub, @state, @build_status, @push_status, @attempts, @build_runs, @push_attempts, @lease_owner,
                    @lease_expires_at, @cancel_requested, @created_at, @started_at, @finished_at, @error_kind, @error_message, @engine, @local_image,
                    @digest, @pushed_reference, @error_limit, @secret_ids, @created_at)
            """, row, transaction, cancellationToken: cancellationToken)), cancellationToken);
    }

    public async Task<BuildRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM builds WHERE id = @id", new { id = Key(id) }, cancellationToken: cancellationToken));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<BuildRecord>> ListAsync(BuildFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var where = new List<string>();
        if (!filter.AnyOwner) where.Add(filter.Owner is null ? "owner IS NULL" : "owner = @owner");
        if (filter.Repository is not null) where.Add("repository = @repository");
        if (filter.State is not null) where.Add("state = @state");
        if (filter.After is not null) where.Add("(created_at < @afterAt OR (created_at = @afterAt AND id < @afterId))");
        var sql = $"SELECT {Columns} FROM builds {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY created_at DESC, id DESC LIMIT @limit";
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(sql, new
        {
            owner = filter.Owner,
            repository = filter.Repository,
            state = filter.State?.ToWire(),
            afterAt = filter.After?.CreatedAt.ToUnixTimeMilliseconds(),
            afterId = filter.After is { } after ? Key(after.Id) : null,
            limit = Math.Clamp(filter.Limit, 1, 1000),
        }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<BuildRecord?> LeaseNextAsync(string workerId, TimeSpan leaseDuration, TimeSpan queueTimeToLive, int perNamespaceLimit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var expired = await connection.QueryAsync<string>(new CommandDefinition(
                """
                UPDATE builds SET state = 'timed_out', finished_at = @now, error_kind = 'infrastructure', error_limit = 'QueueTimeToLive',
                       error_message = 'The build waited in the queue longer than the queue time-to-live (Wharf:Builds:QueueTimeToLive = ' || @ttl || ') and was not started.'
                WHERE state = 'queued' AND queued_at < @cutoff
                RETURNING id
                """,
                new { now, cutoff = now - (long)queueTimeToLive.TotalMilliseconds, ttl = queueTimeToLive.ToString("c", CultureInfo.InvariantCulture) },
                transaction, cancellationToken: cancellationToken));
            await JournalAsync(connection, transaction, expired.ToList(), cancellationToken);
            // Queued builds, and running builds whose worker stopped renewing (lease lapsed), taking turns across
            // namespaces: the namespace running the fewest builds first, then the one served longest ago, then the
            // oldest build in it.
            var id = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                """
                SELECT b.id FROM builds b
                WHERE (b.state = 'queued' OR (b.state = 'running' AND b.lease_expires_at < @now))
                  AND (SELECT COUNT(*) FROM builds r
                       WHERE r.namespace = b.namespace AND r.state = 'running' AND r.lease_expires_at >= @now) < @limit
                ORDER BY (SELECT COUNT(*) FROM builds r
                          WHERE r.namespace = b.namespace AND r.state = 'running' AND r.lease_expires_at >= @now),
                         COALESCE((SELECT MAX(l.leased_at) FROM builds l WHERE l.namespace = b.namespace), 0),
                         b.queued_at, b.id
                LIMIT 1
                """, new { now, limit = perNamespaceLimit }, transaction, cancellationToken: cancellationToken));
            if (id is null) return null;
            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE builds SET state = 'running', lease_owner = @workerId, lease_expires_at = @expires, leased_at = @now,
                       attempts = attempts + 1, started_at = COALESCE(started_at, @now)
                WHERE id = @id
                """, new { id, workerId, now, expires = now + (long)leaseDuration.TotalMilliseconds }, transaction, cancellationToken: cancellationToken));
            var row = await connection.QuerySingleAsync<Row>(new CommandDefinition(
                $"SELECT {Columns} FROM builds WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            return row.ToRecord();
        }, cancellationToken);
    }

    public Task<BuildRecord?> RenewLeaseAsync(Guid id, string workerId, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                // A lease that already lapsed is not renewed: another worker may take the build any moment, so the one
                // that let it lapse must stop rather than run on beside it.
                "UPDATE builds SET lease_expires_at = @expires WHERE id = @id AND state = 'running' AND lease_owner = @workerId AND lease_expires_at >= @now",
                new { id = Key(id), workerId, now, expires = now + (long)leaseDuration.TotalMilliseconds }, transaction, cancellationToken: cancellationToken));
            if (changed == 0) return null;
            var row = await connection.QuerySingleAsync<Row>(new CommandDefinition(
                $"SELECT {Columns} FROM builds WHERE id = @id", new { id = Key(id) }, transaction, cancellationToken: cancellationToken));
            return row.ToRecord();
        }, cancellationToken);

    public Task<bool> UpdateAsync(BuildRecord build, string workerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        var row = Row.From(build);
        var final = build.State.IsFinished();
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                $"""
                UPDATE builds SET state = @state, build_status = @build_status, push_status = @push_status, build_runs = @build_runs,
                       push_attempts = @push_attempts, error_kind = @error_kind, error_message = @error_message, error_limit = @error_limit, engine = @engine,
                       local_image = @local_image, digest = @digest, pushed_reference = @pushed_reference,
                       finished_at = {(final ? "@finished_at" : "NULL")}
                       {(final ? ", lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0" : "")}
                WHERE id = @id AND state = 'running' AND lease_owner = @workerId
                """, new
                {
                    row.id, row.state, row.build_status, row.push_status, row.build_runs, row.push_attempts, row.error_kind,
                    row.error_message, row.error_limit, row.engine, row.local_image, row.digest, row.pushed_reference,
                    finished_at = build.FinishedAt?.ToUnixTimeMilliseconds() ?? Now(), workerId,
                }, transaction, cancellationToken: cancellationToken));
            if (changed > 0 && final) await JournalAsync(connection, transaction, [row.id], cancellationToken);
            return changed > 0;
        }, cancellationToken);
    }

    public Task ReleaseAsync(Guid id, string workerId, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            "UPDATE builds SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE id = @id AND state = 'running' AND lease_owner = @workerId",
            new { id = Key(id), workerId }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public Task<bool> RequeueAsync(Guid id, PhaseStatus buildStatus, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE builds SET state = 'queued', build_status = @buildStatus, push_status = 'pending', queued_at = @now,
                       finished_at = NULL, error_kind = NULL, error_message = NULL, error_limit = NULL, lease_owner = NULL, lease_expires_at = NULL,
                       cancel_requested = 0
                WHERE id = @id AND state NOT IN ('queued', 'running', 'succeeded')
                """, new { id = Key(id), buildStatus = buildStatus.ToWire(), now = Now() }, transaction, cancellationToken: cancellationToken));
            return changed > 0;
        }, cancellationToken);

    public Task<BuildRecord?> CancelAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var now = Now();
            var cancelled = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE builds SET state = 'cancelled', finished_at = @now, error_kind = NULL,
                       error_message = 'Cancelled before it started.'
                WHERE id = @id AND state = 'queued'
                """, new { id = Key(id), now }, transaction, cancellationToken: cancellationToken));
            if (cancelled > 0) await JournalAsync(connection, transaction, [Key(id)], cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE builds SET cancel_requested = 1 WHERE id = @id AND state = 'running'",
                new { id = Key(id) }, transaction, cancellationToken: cancellationToken));
            var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
                $"SELECT {Columns} FROM builds WHERE id = @id", new { id = Key(id) }, transaction, cancellationToken: cancellationToken));
            return row?.ToRecord();
        }, cancellationToken);

    public Task AppendLogAsync(Guid id, IReadOnlyList<BuildLogLine> lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0) return Task.CompletedTask;
        var key = Key(id);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT OR REPLACE INTO build_logs (build_id, seq, at, line) VALUES ($id, $seq, $at, $line)";
            var pId = command.Parameters.Add("$id", SqliteType.Text);
            var pSeq = command.Parameters.Add("$seq", SqliteType.Integer);
            var pAt = command.Parameters.Add("$at", SqliteType.Integer);
            var pLine = command.Parameters.Add("$line", SqliteType.Text);
            pId.Value = key;
            foreach (var line in lines)
            {
                pSeq.Value = line.Sequence;
                pAt.Value = line.Time.ToUnixTimeMilliseconds();
                pLine.Value = line.Text;
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            return true;
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<BuildLogLine>> ReadLogAsync(Guid id, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long seq, long at, string line)>(new CommandDefinition(
            "SELECT seq, at, line FROM build_logs WHERE build_id = @id AND seq > @afterSequence ORDER BY seq LIMIT @limit",
            new { id = Key(id), afterSequence, limit = Math.Clamp(limit, 1, 100_000) }, cancellationToken: cancellationToken));
        return rows.Select(r => new BuildLogLine(r.seq, DateTimeOffset.FromUnixTimeMilliseconds(r.at), r.line)).ToList();
    }

    public async Task<BuildQueueCounts> CountActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string State, long Count)>(new CommandDefinition(
            "SELECT state, COUNT(*) FROM builds WHERE state IN ('queued', 'running') GROUP BY state", cancellationToken: cancellationToken));
        long queued = 0, running = 0;
        foreach (var (state, count) in rows)
        {
            if (state == "queued") queued = count;
            else running = count;
        }
        return new BuildQueueCounts(queued, running);
    }

    public async Task<long> LastLogSequenceAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT MAX(seq) FROM build_logs WHERE build_id = @id", new { id = Key(id) }, cancellationToken: cancellationToken)) ?? 0;
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Key(Guid id) => id.ToString("D");

    // Dapper maps columns to these properties by name.
#pragma warning disable IDE1006, CA1707
    private sealed class Row
    {
        public string id { get; set; } = "";
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
        public string? credential_id { get; set; }
        public long use_dockerhub { get; set; }
        public string state { get; set; } = "";
        public string build_status { get; set; } = "";
        public string push_status { get; set; } = "";
        public long attempts { get; set; }
        public long build_runs { get; set; }
        public long push_attempts { get; set; }
        public string? lease_owner { get; set; }
        public long? lease_expires_at { get; set; }
        public long cancel_requested { get; set; }
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
            id = Key(b.Id),
            owner = b.Owner,
            @namespace = b.Namespace,
            image = b.Image,
            registry = b.Registry,
            repository = b.Repository,
            tag = b.Tag,
            source_kind = BuildText.Format(b.SourceKind),
            dockerfile_path = b.DockerfilePath,
            build_args = BuildText.FormatArgs(b.BuildArgs),
            target = b.Target,
            platform = b.Platform,
            credential_id = b.CredentialId?.ToString("D"),
            use_dockerhub = b.UseDockerHubSettings ? 1 : 0,
            state = b.State.ToWire(),
            build_status = b.BuildStatus.ToWire(),
            push_status = b.PushStatus.ToWire(),
            attempts = b.Attempts,
            build_runs = b.BuildRuns,
            push_attempts = b.PushAttempts,
            lease_owner = b.LeaseOwner,
            lease_expires_at = b.LeaseExpiresAt?.ToUnixTimeMilliseconds(),
            cancel_requested = b.CancelRequested ? 1 : 0,
            created_at = b.CreatedAt.ToUnixTimeMilliseconds(),
            started_at = b.StartedAt?.ToUnixTimeMilliseconds(),
            finished_at = b.FinishedAt?.ToUnixTimeMilliseconds(),
            error_kind = b.ErrorKind.ToWire(),
            error_message = b.ErrorMessage,
            engine = b.Engine,
            local_image = b.LocalImage,
            digest = b.Digest,
            pushed_reference = b.PushedReference,
            error_limit = b.ErrorLimit,
            secret_ids = BuildText.FormatIds(b.SecretIds),
        };

        public BuildRecord ToRecord() => new()
        {
            Id = Guid.Parse(id),
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
            CredentialId = credential_id is null ? null : Guid.Parse(credential_id),
            UseDockerHubSettings = use_dockerhub != 0,
            State = BuildText.ParseState(state),
            BuildStatus = BuildText.ParsePhase(build_status),
            PushStatus = BuildText.ParsePhase(push_status),
            Attempts = (int)attempts,
            BuildRuns = (int)build_runs,
            PushAttempts = (int)push_attempts,
            LeaseOwner = lease_owner,
            LeaseExpiresAt = lease_expires_at is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null,
            CancelRequested = cancel_requested != 0,
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

