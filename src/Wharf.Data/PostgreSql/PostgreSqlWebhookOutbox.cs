using Dapper;
using Npgsql;
using Wharf.Core.Builds;
using Wharf.Core.Events;
using Wharf.Core.Webhooks;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// The webhook outbox on PostgreSQL, as <see cref="Sqlite.SqliteWebhookOutbox"/> is on SQLite: a change journal for
/// pushes and deletes (<see cref="IPostgreSqlChangeJournal"/>) and for build ends (<see cref="IPostgreSqlBuildJournal"/>)
/// that writes one pending delivery per watching webhook inside the transaction that makes the change. A write retried
/// after a serialization failure writes its deliveries again in the new transaction (the failed one's are rolled back).
/// </summary>
public sealed class PostgreSqlWebhookOutbox(WebhookSource source, TimeProvider time) : IPostgreSqlChangeJournal, IPostgreSqlBuildJournal
{
    public async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, RegistryChange change, CancellationToken cancellationToken)
    {
        if (RegistryChangeNotices.From(change) is not { } notice) return;
        if (change is ManifestPushed pushed)
        {
            var size = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = @repository AND m.digest = @digest",
                new { repository = pushed.Repository, digest = pushed.Digest.ToString() }, transaction, cancellationToken: cancellationToken));
            notice = notice with { Size = size };
        }
        await EnqueueAsync(connection, transaction, notice, cancellationToken);
    }

    public Task BuildFinishedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BuildRecord build, CancellationToken cancellationToken) =>
        EnqueueAsync(connection, transaction, BuildNotices.From(build, time.GetUtcNow()), cancellationToken);

    /// <summary>Writes one pending delivery per webhook that watches the notice's repository and event; returns how many.</summary>
    public async Task<int> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, WebhookNotice notice, CancellationToken cancellationToken)
    {
        var hooks = await connection.QueryAsync<(Guid id, string events, string format)>(new CommandDefinition(
            """
            SELECT id, events, format FROM webhooks
            WHERE scope_kind = 'global'
               OR (scope_kind = 'repository' AND scope = @repository)
               OR (scope_kind = 'namespace' AND scope = @ns)
            """, new { repository = notice.Repository, ns = notice.Namespace ?? "" }, transaction, cancellationToken: cancellationToken));
        var deliveries = WebhookFanOut.Deliveries(notice, hooks.Select(h => new WatchingWebhook(h.id, h.events, h.format)), source);
        if (deliveries.Count == 0) return 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, next_attempt_at, created_at)
            SELECT id, webhook_id, event, payload, 'pending', 0, @now, @now
            FROM unnest(@ids, @webhookIds, @events, @payloads) AS d (id, webhook_id, event, payload)
            """, new
            {
                ids = deliveries.Select(_ => Guid.NewGuid()).ToArray(),
                webhookIds = deliveries.Select(d => d.WebhookId).ToArray(),
                events = deliveries.Select(d => d.Event).ToArray(),
                payloads = deliveries.Select(d => d.Payload).ToArray(),
                now,
            }, transaction, cancellationToken: cancellationToken));
        return deliveries.Count;
    }
}
