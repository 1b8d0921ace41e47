namespace Wharf.Core.Webhooks;

/// <summary>The events a webhook may ask for.</summary>
[Flags]
public enum WebhookEvents
{
    None = 0,
    /// <summary>A manifest was pushed (a tag moved or a digest was stored).</summary>
    Push = 1,
    /// <summary>A manifest, tag, blob link or repository was deleted.</summary>
    Delete = 2,
    /// <summary>A build ended: succeeded, failed, timed out or cancelled.</summary>
    Build = 4,
    All = Push | Delete | Build,
}

/// <summary>What a webhook watches.</summary>
public enum WebhookScopeKind
{
    Repository,
    Namespace,
    /// <summary>Everything: an endpoint from configuration (<c>Wharf:Webhooks:Endpoints</c>).</summary>
    Global,
}

/// <summary>The body a webhook receives.</summary>
public enum WebhookFormat
{
    /// <summary>Wharf's JSON (<c>X-Wharf-Event</c>, <c>X-Wharf-Delivery</c>, <c>X-Wharf-Signature-256</c>).</summary>
    Wharf,
    /// <summary>The reference registry's notification envelope, <c>application/vnd.docker.distribution.events.v1+json</c>.</summary>
    Distribution,
}

/// <summary>Where a delivery stands.</summary>
public enum DeliveryState
{
    Pending,
    Delivered,
    /// <summary>Every allowed attempt failed.</summary>
    Failed,
}

public sealed record Webhook(
    Guid Id,
    string? Owner,
    WebhookScopeKind ScopeKind,
    string Scope,
    string Url,
    WebhookEvents Events,
    WebhookFormat Format,
    DateTimeOffset CreatedAt,
    string? Name = null,
    IReadOnlyDictionary<string, string>? Headers = null);

public sealed record WebhookDelivery(
    Guid Id,
    Guid WebhookId,
    string Event,
    DeliveryState State,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? FinishedAt,
    int? LastStatus,
    string? LastError,
    long? LastDurationMs,
    Guid? RedeliveryOf,
    IReadOnlyList<DeliveryAttempt> AttemptLog);

/// <summary>One try at sending a delivery: the receiver's status (null when it could not be reached) and how long it took.</summary>
public sealed record DeliveryAttempt(int Number, DateTimeOffset At, int? Status, long DurationMs, string? Error);

/// <summary>A delivery taken by a dispatcher, with what it needs to send it.</summary>
public sealed record LeasedDelivery(
    Guid Id,
    Guid WebhookId,
    string Event,
    string Url,
    string? ProtectedSecret,
    WebhookFormat Format,
    IReadOnlyDictionary<string, string>? Headers,
    string Payload,
    int Attempts);

/// <summary>A webhook endpoint from configuration, kept in the store so the outbox can address it like any other.</summary>
public sealed record ConfiguredWebhook(string Name, string Url, WebhookEvents Events, WebhookFormat Format, string? ProtectedSecret, IReadOnlyDictionary<string, string> Headers);

public static class WebhookText
{
    public static string Wire(WebhookEvents single) => single switch
    {
        WebhookEvents.Push => "push",
        WebhookEvents.Delete => "delete",
        WebhookEvents.Build => "build",
        _ => throw new ArgumentOutOfRangeException(nameof(single)),
    };

    public static IReadOnlyList<string> Format(WebhookEvents events) =>
        new[] { WebhookEvents.Push, WebhookEvents.Delete, WebhookEvents.Build }.Where(e => events.HasFlag(e)).Select(Wire).ToList();

    public static bool TryParseEvents(IEnumerable<string>? words, out WebhookEvents events)
    {
        events = WebhookEvents.None;
        if (words is null) return false;
        foreach (var word in words)
        {
            var one = word?.Trim().ToLowerInvariant() switch
            {
                "push" => WebhookEvents.Push,
                "delete" => WebhookEvents.Delete,
                "build" => WebhookEvents.Build,
                _ => WebhookEvents.None,
            };
            if (one == WebhookEvents.None) return false;
            events |= one;
        }
        return events != WebhookEvents.None;
    }

    public static string Wire(WebhookScopeKind kind) => kind switch
    {
        WebhookScopeKind.Repository => "repository",
        WebhookScopeKind.Namespace => "namespace",
        _ => "global",
    };

    public static WebhookScopeKind ParseScope(string text) => text switch
    {
        "repository" => WebhookScopeKind.Repository,
        "namespace" => WebhookScopeKind.Namespace,
        _ => WebhookScopeKind.Global,
    };

    public static string Wire(WebhookFormat format) => format == WebhookFormat.Distribution ? "distribution" : "wharf";

    public static bool TryParseFormat(string? text, out WebhookFormat format)
    {
        format = WebhookFormat.Wharf;
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "" or "wharf": return true;
            case "distribution": format = WebhookFormat.Distribution; return true;
            default: return false;
        }
    }

    public static string Wire(DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.Delivered => "delivered",
        _ => "failed",
    };

    public static DeliveryState ParseState(string text) => text switch
    {
        "pending" => DeliveryState.Pending,
        "delivered" => DeliveryState.Delivered,
        _ => DeliveryState.Failed,
    };
}
