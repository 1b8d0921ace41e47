using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Builds;
using Wharf.Core.Webhooks;

namespace Wharf.Data.Sqlite;

/// <summary>
/// The webhook outbox: the change journals (registry changes, build ends) hand it a <see cref="WebhookNotice"/> inside
/// the transaction that makes the change, and it writes one pending delivery per webhook that watches it. A delivery
/// row therefore exists for every committed change and for none that rolled back. Needs no connection factory of its
/// own (the factory's journals include it).
/// </summary>
public sealed class SqliteWebhookOutbox(WebhookSource source, TimeProvider time) : ISqliteBuildJournal
{
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
        var wire = WebhookText.Wire(notice.Event);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var count = 0;
        var eventId = Guid.NewGuid();
        foreach (var (id, events, formatText) in hooks)
        {
            if (!events.Split(',').Contains(wire, StringComparer.Ordinal)) continue;
            WebhookText.TryParseFormat(formatText, out var format);
            var payload = WebhookPayloads.Build(notice, format, eventId, source);
            if (payload is null) continue;
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, next_attempt_at, created_at)
                VALUES (@delivery, @id, @wire, @payload, 'pending', 0, @now, @now)
                """, new { delivery = Guid.NewGuid().ToString("D"), id, wire, payload, now }, transaction, cancellationToken: cancellationToken));
            count++;
        }
        return count;
    }

    public Task BuildFinishedAsync(SqliteConnection connection, SqliteTransaction transaction, BuildRecord build, CancellationToken cancellationToken) =>
        EnqueueAsync(connection, transaction, BuildNotices.From(build, time.GetUtcNow()), cancellationToken);
}

/// <summary>Told about every build that reaches a final state, inside the transaction that stores it (see <see cref="SqliteWebhookOutbox"/>).</summary>
public interface ISqliteBuildJournal
{
    Task BuildFinishedAsync(SqliteConnection connection, SqliteTransaction transaction, BuildRecord build, CancellationToken cancellationToken);
}
