using Wharf.Core.Builds;
using Wharf.Core.Signals;
using Wharf.Core.Telemetry;
using Wharf.Core.Webhooks;

namespace Wharf.Server.Webhooks;

/// <summary>
/// Sends the outbox: takes due deliveries (leased, so nodes sharing a database never send one twice at once), POSTs
/// them a few at a time, and records each attempt; a failure is tried again after
/// <see cref="WebhookOptions.RetryDelay"/> (doubling, capped) until <see cref="WebhookOptions.MaxAttempts"/>.
/// Woken by the registry's and builds' change signals, and polls as a fallback; a push never waits on it.
/// On start it writes the configured global endpoints into the store.
/// </summary>
public sealed partial class WebhookDispatcher(
    IWebhookStore store,
    WebhookSender sender,
    WebhookOptions options,
    ISecretProtector protector,
    ISignalBus signals,
    WharfMetrics metrics,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Asks the dispatcher to look now (coalesced).</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SyncEndpointsAsync(stoppingToken);
        if (!options.Dispatch) return;
        using var tags = signals.Subscribe(SignalTopic.TagChanged, _ => Wake());
        using var deletes = signals.Subscribe(SignalTopic.ManifestDeleted, _ => Wake());
        using var builds = signals.Subscribe(SignalTopic.BuildChanged, _ => Wake());
        using var queued = signals.Subscribe(SignalTopic.WebhookQueued, _ => Wake());
        var lease = options.Timeout + options.Timeout + TimeSpan.FromSeconds(30);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var next = await store.NextDueAsync(stoppingToken);
                var now = time.GetUtcNow();
                if (next is { } due && due <= now)
                {
                    var batch = await store.LeaseDueAsync(lease, options.Concurrency, stoppingToken);
                    await Task.WhenAll(batch.Select(d => DeliverAsync(d, stoppingToken)));
                    if (batch.Count > 0) continue;
                }
                var until = now + (next is { } later && later > now ? Min(later - now, options.PollInterval) : options.PollInterval);
                await WaitUntilAsync(until, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogLoopFailed(logger, e);
                await WaitUntilAsync(time.GetUtcNow() + options.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="until"/> on the clock, or until woken. The clock is read again once the timer
    /// exists: a clock moved past the due time between computing the wait and starting the timer (a test's fake
    /// clock, advanced from another thread) would otherwise start a timer a whole wait too late.
    /// </summary>
    private async Task WaitUntilAsync(DateTimeOffset until, CancellationToken stoppingToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var remaining = until - time.GetUtcNow();
        var delay = Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, time, linked.Token);
        var woken = _wake.WaitAsync(linked.Token);
        if (time.GetUtcNow() < until) await Task.WhenAny(delay, woken);
        await linked.CancelAsync();
        await Task.WhenAll(delay, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stoppingToken.ThrowIfCancellationRequested();
    }

    private async Task DeliverAsync(LeasedDelivery delivery, CancellationToken stoppingToken)
    {
        var started = time.GetUtcNow();
        var outcome = await sender.SendAsync(delivery, stoppingToken);
        var number = delivery.Attempts + 1;
        DateTimeOffset? next = null;
        if (outcome.Delivered)
        {
            metrics.WebhookDelivery(DeliveryResult.Delivered);
        }
        else if (number >= options.MaxAttempts)
        {
            metrics.WebhookDelivery(DeliveryResult.GaveUp);
            LogGaveUp(logger, delivery.Id, delivery.WebhookId, number, outcome.Error ?? "");
        }
        else
        {
            next = time.GetUtcNow() + options.RetryDelay(number);
            metrics.WebhookDelivery(DeliveryResult.Failed);
            LogFailed(logger, delivery.Id, delivery.WebhookId, number, outcome.Error ?? "", next.Value);
        }
        var attempt = new DeliveryAttempt(number, DateTimeOffset.FromUnixTimeMilliseconds(started.ToUnixTimeMilliseconds()), outcome.Status, outcome.DurationMs, outcome.Error);
        await store.RecordAttemptAsync(delivery.Id, attempt, outcome.Delivered, next, CancellationToken.None);
    }

    private async Task SyncEndpointsAsync(CancellationToken cancellationToken)
    {
        var endpoints = options.Endpoints.Select(pair =>
        {
            var (name, endpoint) = pair;
            WebhookText.TryParseFormat(endpoint.Format, out var format);
            var events = endpoint.Events is { Count: > 0 } && WebhookText.TryParseEvents(endpoint.Events, out var parsed) ? parsed : WebhookEvents.Push | WebhookEvents.Delete;
            return new ConfiguredWebhook(name, endpoint.Url, events, format,
                string.IsNullOrEmpty(endpoint.Secret) ? null : protector.Protect(endpoint.Secret), endpoint.Headers);
        }).ToList();
        await store.SyncConfiguredAsync(endpoints, cancellationToken);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} (webhook {WebhookId}) failed, attempt {Attempt}: {Error}; next attempt at {NextAttemptAt}")]
    private static partial void LogFailed(ILogger logger, Guid deliveryId, Guid webhookId, int attempt, string error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Webhook delivery {DeliveryId} (webhook {WebhookId}) given up after {Attempt} attempts: {Error}")]
    private static partial void LogGaveUp(ILogger logger, Guid deliveryId, Guid webhookId, int attempt, string error);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "The webhook dispatcher failed; it goes on after a pause")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
