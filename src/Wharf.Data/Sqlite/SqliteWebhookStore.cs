using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Webhooks;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IWebhookStore"/> on SQLite. Deliveries are written by <see cref="SqliteWebhookOutbox"/> inside the
/// transactions of the changes they report.
/// </summary>
public sealed class SqliteWebhookStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null) : IWebhookStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    private const string WebhookColumns = "id, owner, scope_kind, scope, name, url, events, format, headers, created_at";

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    public Task CreateAsync(Webhook webhook, string protectedSecret, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            $"INSERT INTO webhooks ({WebhookColumns}, secret) VALUES (@id, @owner, @scope_kind, @scope, @name, @url, @events, @format, @headers, @created_at, @secret)",
            new
            {
                id = webhook.Id.ToString("D"),
                owner = webhook.Owner,
                scope_kind = WebhookText.Wire(webhook.ScopeKind),
                scope = webhook.Scope,
                name = webhook.Name,
                url = webhook.Url,
                events = string.Join(',', WebhookText.Format(webhook.Events)),
                format = WebhookText.Wire(webhook.Format),
                headers = webhook.Headers is { Count: > 0 } h ? JsonSerializer.Serialize(h, DataJson.Default.DictionaryStringString) : null,
                created_at = webhook.CreatedAt.ToUnixTimeMilliseconds(),
                secret = protectedSecret,
            }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public async Task<Webhook?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<WebhookRow>(new CommandDefinition(
            $"SELECT {WebhookColumns} FROM webhooks WHERE id = @id", new { id = id.ToString("D") }, cancellationToken: cancellationToken));
        return row?.ToWebhook();
    }

    public async Task<IReadOnlyList<Webhook>> ListAsync(IReadOnlyCollection<string>? namespaces, CancellationToken cancellationToken)
    {
        if (namespaces is { Count: 0 }) return [];
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<WebhookRow>(new CommandDefinition(
            namespaces is null
                ? $"SELECT {WebhookColumns} FROM webhooks ORDER BY created_at, id"
                : $"""
                  SELECT {WebhookColumns} FROM webhooks
                  WHERE (scope_kind = 'namespace' AND scope IN @namespaces)
                     OR (scope_kind = 'repository' AND instr(scope, '/') > 0 AND substr(scope, 1, instr(scope, '/') - 1) IN @namespaces)
                  ORDER BY created_at, id
                  """,
            new { namespaces }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToWebhook()).ToList();
    }

    public Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM webhooks WHERE id = @id", new { id = id.ToString("D") }, transaction, cancellationToken: cancellationToken)) > 0, cancellationToken);

    public Task SyncConfiguredAsync(IReadOnlyList<ConfiguredWebhook> endpoints, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var names = endpoints.Select(e => e.Name).ToList();
            var existing = (await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT name FROM webhooks WHERE scope_kind = 'global'", transaction: transaction, cancellationToken: cancellationToken))).ToHashSet(StringComparer.Ordinal);
            foreach (var stale in existing.Where(n => !names.Contains(n, StringComparer.Ordinal)))
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM webhooks WHERE scope_kind = 'global' AND name = @stale", new { stale }, transaction, cancellationToken: cancellationToken));
            }
            var now = Now();
            foreach (var endpoint in endpoints)
            {
                var args = new
                {
                    id = ConfiguredId(endpoint.Name),
                    name = endpoint.Name,
                    url = endpoint.Url,
                    events = string.Join(',', WebhookText.Format(endpoint.Events)),
                    format = WebhookText.Wire(endpoint.Format),
                    headers = endpoint.Headers.Count > 0 ? JsonSerializer.Serialize(endpoint.Headers, DataJson.Default.DictionaryStringString) : null,
                    secret = endpoint.ProtectedSecret,
                    now,
                };
                await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO webhooks (id, owner, scope_kind, scope, name, url, secret, events, format, headers, created_at)
                    VALUES (@id, NULL, 'global', '', @name, @url, @secret, @events, @format, @headers, @now)
                    ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events,
                        format = excluded.format, headers = excluded.headers
                    """, args, transaction, cancellationToken: cancellationToken));
            }
            return 0;
        }, cancellationToken);

    /// <summary>A configured endpoint's id: the same on every node and across restarts, from its name.</summary>
    public static string ConfiguredId(string name)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("wharf-webhook-endpoint\n" + name));
        return new Guid(hash.AsSpan(0, 16)).ToString("D");
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid webhookId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<DeliveryRow>(new CommandDefinition(
            """
            SELECT id, webhook_id, event, state, attempts, created_at, next_attempt_at, finished_at, last_status, last_error, last_duration_ms, redelivery_of
            FROM webhook_deliveries WHERE webhook_id = @webhookId ORDER BY created_at DESC, id DESC LIMIT @limit
            """, new { webhookId = webhookId.ToString("D"), limit }, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0) return [];
        var attempts = (await connection.QueryAsync<AttemptRow>(new CommandDefinition(
            "SELECT delivery_id, attempt, at, status, duration_ms, error FROM webhook_attempts WHERE delivery_id IN @ids ORDER BY attempt",
            new { ids = rows.Select(r => r.id).ToList() }, cancellationToken: cancellationToken))).ToLookup(a => a.delivery_id);
        return rows.Select(r => r.ToDelivery(attempts[r.id].Select(a => a.ToAttempt()).ToList())).ToList();
    }

    public Task<WebhookDelivery?> RedeliverAsync(Guid webhookId, Guid deliveryId, CancellationToken cancellationToken) =>
        connections.WriteAsync<WebhookDelivery?>(async (connection, transaction) =>
        {
            var id = Guid.NewGuid();
            var now = Now();
            var inserted = await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, next_attempt_at, created_at, redelivery_of)
                SELECT @id, webhook_id, event, payload, 'pending', 0, @now, @now, id
                FROM webhook_deliveries WHERE id = @deliveryId AND webhook_id = @webhookId
                """, new { id = id.ToString("D"), now, deliveryId = deliveryId.ToString("D"), webhookId = webhookId.ToString("D") },
                transaction, cancellationToken: cancellationToken));
            if (inserted == 0) return null;
            var row = await connection.QuerySingleAsync<DeliveryRow>(new CommandDefinition(
                """
                SELECT id, webhook_id, event, state, attempts, created_at, next_attempt_at, finished_at, last_status, last_error, last_duration_ms, redelivery_of
                FROM webhook_deliveries WHERE id = @id
                """, new { id = id.ToString("D") }, transaction, cancellationToken: cancellationToken));
            return row.ToDelivery([]);
        }, cancellationToken);

    public Task<IReadOnlyList<LeasedDelivery>> LeaseDueAsync(TimeSpan lease, int limit, CancellationToken cancellationToken) =>
        connections.WriteAsync<IReadOnlyList<LeasedDelivery>>(async (connection, transaction) =>
        {
            var now = Now();
            var rows = (await connection.QueryAsync<LeaseRow>(new CommandDefinition(
                """
                SELECT d.id, d.webhook_id, d.event, w.url, w.secret, w.format, w.headers, d.payload, d.attempts
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= @now AND (d.lease_until IS NULL OR d.lease_until < @now)
                ORDER BY d.next_attempt_at, d.created_at
                LIMIT @limit
                """, new { now, limit }, transaction, cancellationToken: cancellationToken))).ToList();
            if (rows.Count == 0) return [];
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE webhook_deliveries SET lease_until = @until WHERE id IN @ids",
                new { until = now + (long)lease.TotalMilliseconds, ids = rows.Select(r => r.id).ToList() }, transaction, cancellationToken: cancellationToken));
            return rows.Select(r => r.ToLeased()).ToList();
        }, cancellationToken);

    public Task RecordAttemptAsync(Guid deliveryId, DeliveryAttempt attempt, bool delivered, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) =>
        {
            var id = deliveryId.ToString("D");
            var at = attempt.At.ToUnixTimeMilliseconds();
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT OR REPLACE INTO webhook_attempts (delivery_id, attempt, at, status, duration_ms, error)
                VALUES (@id, @number, @at, @status, @duration, @error)
                """, new { id, number = attempt.Number, at, status = attempt.Status, duration = attempt.DurationMs, error = attempt.Error },
                transaction, cancellationToken: cancellationToken));
            // Only the newest attempts are kept per delivery.
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM webhook_attempts WHERE delivery_id = @id AND attempt <= @number - 20", new { id, number = attempt.Number }, transaction, cancellationToken: cancellationToken));
            var state = nextAttemptAt is null ? (delivered ? "delivered" : "failed") : "pending";
            return await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE webhook_deliveries SET attempts = @number, state = @state, lease_until = NULL,
                       next_attempt_at = COALESCE(@next, next_attempt_at), finished_at = CASE WHEN @next IS NULL THEN @at END,
                       last_status = @status, last_error = @error, last_duration_ms = @duration
                WHERE id = @id
                """, new { id, number = attempt.Number, state, next = nextAttemptAt?.ToUnixTimeMilliseconds(), at, status = attempt.Status, error = attempt.Error, duration = attempt.DurationMs },
                transaction, cancellationToken: cancellationToken));
        }, cancellationToken);

    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var next = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM webhook_deliveries WHERE state = 'pending'", cancellationToken: cancellationToken));
        return next is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    private static IReadOnlyDictionary<string, string>? Headers(string? json) =>
        string.IsNullOrEmpty(json) ? null : JsonSerializer.Deserialize(json, DataJson.Default.DictionaryStringString);

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private sealed record WebhookRow(string id, string? owner, string scope_kind, string scope, string? name, string url, string events, string format, string? headers, long created_at)
    {
        public Webhook ToWebhook()
        {
            WebhookText.TryParseEvents(events.Split(',', StringSplitOptions.RemoveEmptyEntries), out var parsed);
            WebhookText.TryParseFormat(format, out var parsedFormat);
            return new Webhook(Guid.Parse(id), owner, WebhookText.ParseScope(scope_kind), scope, url, parsed, parsedFormat, Time(created_at), name, Headers(headers));
        }
    }

    private sealed record DeliveryRow(string id, string webhook_id, string @event, string state, long attempts, long created_at, long next_attempt_at,
        long? finished_at, long? last_status, string? last_error, long? last_duration_ms, string? redelivery_of)
    {
        public WebhookDelivery ToDelivery(IReadOnlyList<DeliveryAttempt> log) => new(
            Guid.Parse(id), Guid.Parse(webhook_id), @event, WebhookText.ParseState(state), (int)attempts, Time(created_at), Time(next_attempt_at),
            finished_at is { } f ? Time(f) : null, (int?)last_status, last_error, last_duration_ms, redelivery_of is null ? null : Guid.Parse(redelivery_of), log);
    }

    private sealed record AttemptRow(string delivery_id, long attempt, long at, long? status, long duration_ms, string? error)
    {
        public DeliveryAttempt ToAttempt() => new((int)attempt, Time(at), (int?)status, duration_ms, error);
    }

    private sealed record LeaseRow(string id, string webhook_id, string @event, string url, string? secret, string format, string? headers, string payload, long attempts)
    {
        public LeasedDelivery ToLeased()
        {
            WebhookText.TryParseFormat(format, out var parsed);
            return new LeasedDelivery(Guid.Parse(id), Guid.Parse(webhook_id), @event, url, secret, parsed, Headers(headers), payload, (int)attempts);
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class DataJson : System.Text.Json.Serialization.JsonSerializerContext;
