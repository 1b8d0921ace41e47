namespace Wharf.Core.Webhooks;

/// <summary>
/// Webhooks and the outbox of their deliveries, in the metadata store. Deliveries for registry changes and build ends
/// are written by the provider inside the change's own transaction (its change journal); this interface reads them,
/// hands them to dispatchers (a lease, so two nodes never send one at once) and records each attempt.
/// </summary>
public interface IWebhookStore
{
    Task CreateAsync(Webhook webhook, string protectedSecret, CancellationToken cancellationToken);

    Task<Webhook?> GetAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>
    /// The webhooks of <paramref name="namespaces"/> (namespace webhooks and those of their repositories), oldest first;
    /// every one, configured endpoints too, when <paramref name="namespaces"/> is null.
    /// </summary>
    Task<IReadOnlyList<Webhook>> ListAsync(IReadOnlyCollection<string>? namespaces, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Makes the configured (global) endpoints exactly <paramref name="endpoints"/>: new ones added, changed ones updated, others removed.</summary>
    Task SyncConfiguredAsync(IReadOnlyList<ConfiguredWebhook> endpoints, CancellationToken cancellationToken);

    /// <summary>The newest deliveries of a webhook, with their attempts.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(Guid webhookId, int limit, CancellationToken cancellationToken);

    /// <summary>Queues a new delivery with the same payload as <paramref name="deliveryId"/>; null when that delivery is unknown.</summary>
    Task<WebhookDelivery?> RedeliverAsync(Guid webhookId, Guid deliveryId, CancellationToken cancellationToken);

    /// <summary>Takes up to <paramref name="limit"/> pending deliveries that are due and not leased, leasing them for <paramref name="lease"/>.</summary>
    Task<IReadOnlyList<LeasedDelivery>> LeaseDueAsync(TimeSpan lease, int limit, CancellationToken cancellationToken);

    /// <summary>Records an attempt. <paramref name="nextAttemptAt"/> null ends the delivery: delivered when <paramref name="delivered"/>, else failed.</summary>
    Task RecordAttemptAsync(Guid deliveryId, DeliveryAttempt attempt, bool delivered, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken);

    /// <summary>When the next pending delivery is due (null when none is pending).</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken);
}
