using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Builds;
using Wharf.Core.Events;
using Wharf.Core.Webhooks;

namespace Wharf.Data.Sqlite;

/// <summary>
/// The webhook outbox on SQLite: a change journal for registry changes (pushes and deletes, <see cref="ISqliteChangeJournal"/>)
/// and for build ends (<see cref="ISqliteBuildJournal"/>). Inside the transaction that makes the change it writes one
/// pending delivery per webhook that watches it, so a delivery row exists for every committed change and for none that
/// rolled back. Needs no connection factory of its own (the factory's journals include it).
/// </summary>
public sealed class SqliteWebhookOutbox(WebhookSource source, TimeProvider time) : ISqliteChangeJournal, ISqliteBuildJournal
{
    public async Task AppendAsync(SqliteConnection connection, SqliteTransaction transaction, RegistryChange change, CancellationToken cancellationToken)
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

    /// <summary>Writes one pending delivery per webhook that watches the notice's repository and event; returns how many.</summary>
    public async Task<int> EnqueueAsync(SqliteConnection connection, SqliteTransaction transaction, WebhookNotice notice, CancellationToken cancellationToken)
    {
        var hooks = await connection.QueryAsync<(string id, string events, string format)>(new CommandDefinition(
            """
            SELECT id, events, format FROM webhooks
            WHERE scope_kind = 'global'
               OR (scope_kind = 'repository' AND scope = @repository)
               OR (scope_kind = 'namespace' AND scope = @ns)
            """, new { repository = notice.Repository, ns = notice.Namespace ?? "" }, transaction, cancellationToken: cancellationToken));
        var deliveries = WebhookFanOut.Deliveries(notice, hooks.Select(h => new WatchingWebhook(Guid.Parse(h.id), h.events, h.format)), source);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var delivery in deliveries)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, next_attempt_at, created_at)
                VALUES (@id, @webhookId, @wire, @payload, 'pending', 0, @now, @now)
                """, new { id = Guid.NewGuid().ToString("D"), webhookId = delivery.WebhookId.ToString("D"), wire = delivery.Event, payload = delivery.Payload, now },
                transaction, cancellationToken: cancellationToken));
        }
        return deliveries.Count;
    }

    public Task BuildFinishedAsync(SqliteConnection connection, SqliteTransaction transaction, BuildRecord build, CancellationToken cancellationToken) =>
        EnqueueAsync(connection, transaction, BuildNotices.From(build, time.GetUtcNow()), cancellationToken);
}

/// <summary>Told about every build that reaches a final state, inside the transaction that stores it (see <see cref="SqliteWebhookOutbox"/>).</summary>
public interface ISqliteBuildJournal
{
    Task BuildFinishedAsync(SqliteConnection connection, SqliteTransaction transaction, BuildRecord build, CancellationToken cancellationToken);
}
