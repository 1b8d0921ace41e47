using System.Text.Json;
using Dapper;
using Npgsql;
using Wharf.Core.Webhooks;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IWebhookStore"/> on PostgreSQL. Deliveries are written by <see cref="PostgreSqlWebhookOutbox"/> inside
/// the transactions of the changes they report. Dispatchers on every node lease due deliveries with
/// <c>FOR UPDATE SKIP LOCKED</c>: two nodes never take the same delivery, and neither waits for the other's.
/// </summary>
public sealed class PostgreSqlWebhookStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : IWebhookStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    private const string WebhookColumns = "id, owner, scope_kind, scope, name, url, events, format, headers, created_at";

    private const string DeliveryColumns =
        "id, webhook_id, event, state, attempts, created_at, next_attempt_at, finished_at, last_status, last_error, last_duration_ms, redelivery_of";

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);

    public Task CreateAsync(Webhook webhook, string protectedSecret, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        return connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(Command(
            $"INSERT INTO webhooks ({WebhookColumns}, secret) VALUES (@id, @owner, @scope_kind, @scope, @name, @url, @events, @format, @headers, @created_at, @secret)",
            new
            {
                id = webhook.Id,
                owner = webhook.Owner,
                scope_kind = WebhookText.Wire(webhook.ScopeKind),
                scope = webhook.Scope,
                name = webhook.Name,
                url = webhook.Url,
                events = string.Join(',', WebhookText.Format(webhook.Events)),
                format = WebhookText.Wire(webhook.Format),
                headers = webhook.Headers is { Count: > 0 } h ? JsonSerializer.Serialize(h, PostgreSqlDataJson.Default.DictionaryStringString) : null,
                created_at = webhook.CreatedAt.ToUnixTimeMilliseconds(),
                secret = protectedSecret,
            }, transaction, cancellationToken)), cancellationToken);
    }

    public async Task<Webhook?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<WebhookRow>(Command($"SELECT {WebhookColumns} FROM webhooks WHERE id = @id", new { id }, null, cancellationToken));
        return row?.ToWebhook();
    }

    public async Task<IReadOnlyList<Webhook>> ListAsync(IReadOnlyCollection<string>? namespaces, CancellationToken cancellationToken)
    {
        if (namespaces is { Count: 0 }) return [];
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<WebhookRow>(Command(
            namespaces is null
                ? $"SELECT {WebhookColumns} FROM webhooks ORDER BY created_at, id"
                : $"""
                  SELECT {WebhookColumns} FROM webhooks
                  WHERE (scope_kind = 'namespace' AND scope = ANY(@namespaces))
                     OR (scope_kind = 'repository' AND position('/' in scope) > 0 AND split_part(scope, '/', 1) = ANY(@namespaces))
                  ORDER BY created_at, id
                  """,
            new { namespaces = namespaces?.ToArray() }, null, cancellationToken));
        return rows.Select(r => r.ToWebhook()).ToList();
    }

    public Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
            await connection.ExecuteAsync(Command("DELETE FROM webhooks WHERE id = @id", new { id }, transaction, cancellationToken)) > 0, cancellationToken);

    public Task SyncConfiguredAsync(IReadOnlyList<ConfiguredWebhook> endpoints, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            // Nodes starting at once sync in turn: the same rows, never a duplicate-key failure between them.
            await connection.ExecuteAsync(Command("SELECT pg_advisory_xact_lock(hashtextextended('wharf.webhooks.configured', 0))", null, transaction, cancellationToken));
            await connection.ExecuteAsync(Command(
                "DELETE FROM webhooks WHERE scope_kind = 'global' AND NOT (name = ANY(@names))",
                new { names = endpoints.Select(e => e.Name).ToArray() }, transaction, cancellationToken));
            var now = Now();
            foreach (var endpoint in endpoints)
            {
                await connection.ExecuteAsync(Command(
                    """
                    INSERT INTO webhooks (id, owner, scope_kind, scope, name, url, secret, events, format, headers, created_at)
                    VALUES (@id, NULL, 'global', '', @name, @url, @secret, @events, @format, @headers, @now)
                    ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events,
                        format = excluded.format, headers = excluded.headers
                    """, new
                    {
                        id = Guid.Parse(Sqlite.SqliteWebhookStore.ConfiguredId(endpoint.Name)),
                        name = endpoint.Name,
                        url = endpoint.Url,
                        events = string.Join(',', WebhookText.Format(endpoint.Events)),
                        format = WebhookText.Wire(endpoint.Format),
                        headers = endpoint.Headers.Count > 0 ? JsonSerializer.Serialize(endpoint.Headers, PostgreSqlDataJson.Default.DictionaryStringString) : null,
                        secret = endpoint.ProtectedSecret,
                        now,
                    }, transaction, cancellationToken));
            }
            return 0;
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid webhookId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<DeliveryRow>(Command(
            $"SELECT {DeliveryColumns} FROM webhook_deliveries WHERE webhook_id = @webhookId ORDER BY created_at DESC, id DESC LIMIT @limit",
            new { webhookId, limit }, null, cancellationToken))).ToList();
        if (rows.Count == 0) return [];
        var attempts = (await connection.QueryAsync<AttemptRow>(Command(
            "SELECT delivery_id, attempt, at, status, duration_ms, error FROM webhook_attempts WHERE delivery_id = ANY(@ids) ORDER BY attempt",
            new { ids = rows.Select(r => r.id).ToArray() }, null, cancellationToken))).ToLookup(a => a.delivery_id);
        return rows.Select(r => r.ToDelivery(attempts[r.id].Select(a => a.ToAttempt()).ToList())).ToList();
    }

    public Task<WebhookDelivery?> RedeliverAsync(Guid webhookId, Guid deliveryId, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(Command(
                $"""
                INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, next_attempt_at, created_at, redelivery_of)
                SELECT @id, webhook_id, event, payload, 'pending', 0, @now, @now, id
                FROM webhook_deliveries WHERE id = @deliveryId AND webhook_id = @webhookId
                RETURNING {DeliveryColumns}
                """, new { id = Guid.NewGuid(), now = Now(), deliveryId, webhookId }, transaction, cancellationToken));
            return row?.ToDelivery([]);
        }, cancellationToken);

    public Task<IReadOnlyList<LeasedDelivery>> LeaseDueAsync(TimeSpan lease, int limit, CancellationToken cancellationToken) =>
        connections.WriteAsync<IReadOnlyList<LeasedDelivery>>(async (connection, transaction) =>
        {
            var now = Now();
            var rows = await connection.QueryAsync<LeaseRow>(Command(
                """
                WITH due AS (
                    SELECT id FROM webhook_deliveries
                    WHERE state = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until < @now)
                    ORDER BY next_attempt_at, created_at
                    LIMIT @limit
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE webhook_deliveries d SET lease_until = @until
                FROM due, webhooks w
                WHERE d.id = due.id AND w.id = d.webhook_id
                RETURNING d.id, d.webhook_id, d.event, w.url, w.secret, w.format, w.headers, d.payload, d.attempts, d.next_attempt_at, d.created_at
                """, new { now, limit, until = now + (long)lease.TotalMilliseconds }, transaction, cancellationToken));
            return rows.OrderBy(r => r.next_attempt_at).ThenBy(r => r.created_at).Select(r => r.ToLeased()).ToList();
        }, cancellationToken);

    public Task RecordAttemptAsync(Guid deliveryId, DeliveryAttempt attempt, bool delivered, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var at = attempt.At.ToUnixTimeMilliseconds();
            await connection.ExecuteAsync(Command(
                """
                INSERT INTO webhook_attempts (delivery_id, attempt, at, status, duration_ms, error)
                VALUES (@id, @number, @at, @status, @duration, @error)
                ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at, status = excluded.status,
                    duration_ms = excluded.duration_ms, error = excluded.error
                """, new { id = deliveryId, number = attempt.Number, at, status = attempt.Status, duration = attempt.DurationMs, error = attempt.Error },
                transaction, cancellationToken));
            // Only the newest attempts are kept per delivery.
            await connection.ExecuteAsync(Command(
                "DELETE FROM webhook_attempts WHERE delivery_id = @id AND attempt <= @number - 20", new { id = deliveryId, number = attempt.Number }, transaction, cancellationToken));
            var state = nextAttemptAt is null ? (delivered ? "delivered" : "failed") : "pending";
            return await connection.ExecuteAsync(Command(
                """
                UPDATE webhook_deliveries SET attempts = @number, state = @state, lease_until = NULL,
                       next_attempt_at = COALESCE(CAST(@next AS bigint), next_attempt_at),
                       finished_at = CASE WHEN CAST(@next AS bigint) IS NULL THEN @at END,
                       last_status = @status, last_error = @error, last_duration_ms = @duration
                WHERE id = @id
                """, new
                {
                    id = deliveryId, number = attempt.Number, state, next = nextAttemptAt?.ToUnixTimeMilliseconds(), at,
                    status = attempt.Status, error = attempt.Error, duration = attempt.DurationMs,
                }, transaction, cancellationToken));
        }, cancellationToken);
    }

    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var next = await connection.ExecuteScalarAsync<long?>(Command(
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) FROM webhook_deliveries WHERE state = 'pending'", null, null, cancellationToken));
        return next is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    private static IReadOnlyDictionary<string, string>? Headers(string? json) =>
        string.IsNullOrEmpty(json) ? null : JsonSerializer.Deserialize(json, PostgreSqlDataJson.Default.DictionaryStringString);

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    // Dapper maps columns to these by name and type.
#pragma warning disable IDE1006, CA1707
    private sealed record WebhookRow(Guid id, string? owner, string scope_kind, string scope, string? name, string url, string events, string format, string? headers, long created_at)
    {
        public Webhook ToWebhook()
        {
            WebhookText.TryParseEvents(events.Split(',', StringSplitOptions.RemoveEmptyEntries), out var parsed);
            WebhookText.TryParseFormat(format, out var parsedFormat);
            return new Webhook(id, owner, WebhookText.ParseScope(scope_kind), scope, url, parsed, parsedFormat, Time(created_at), name, Headers(headers));
        }
    }

    private sealed record DeliveryRow(Guid id, Guid webhook_id, string @event, string state, int attempts, long created_at, long next_attempt_at,
        long? finished_at, int? last_status, string? last_error, long? last_duration_ms, Guid? redelivery_of)
    {
        public WebhookDelivery ToDelivery(IReadOnlyList<DeliveryAttempt> log) => new(
            id, webhook_id, @event, WebhookText.ParseState(state), attempts, Time(created_at), Time(next_attempt_at),
            finished_at is { } f ? Time(f) : null, last_status, last_error, last_duration_ms, redelivery_of, log);
    }

    private sealed record AttemptRow(Guid delivery_id, int attempt, long at, int? status, long duration_ms, string? error)
    {
        public DeliveryAttempt ToAttempt() => new(attempt, Time(at), status, duration_ms, error);
    }

    private sealed record LeaseRow(Guid id, Guid webhook_id, string @event, string url, string? secret, string format, string? headers, string payload, int attempts,
        long next_attempt_at, long created_at)
    {
        public LeasedDelivery ToLeased()
        {
            WebhookText.TryParseFormat(format, out var parsed);
            return new LeasedDelivery(id, webhook_id, @event, url, secret, parsed, Headers(headers), payload, attempts);
        }
    }
#pragma warning restore IDE1006, CA1707
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class PostgreSqlDataJson : System.Text.Json.Serialization.JsonSerializerContext;
