using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Wharf.Core.Webhooks;

/// <summary>The bodies webhooks receive: Wharf's JSON, or the reference registry's notification envelope.</summary>
public static class WebhookPayloads
{
    /// <summary>The reference registry's envelope media type (Distribution 2.x sends <c>v1</c>).</summary>
    public const string DistributionEnvelope = "application/vnd.docker.distribution.events.v1+json";

    /// <summary>The body for one notice, or null when the format has nothing to say about it (a build, for the envelope).</summary>
    public static string? Build(WebhookNotice notice, WebhookFormat format, Guid eventId, WebhookSource source) =>
        format == WebhookFormat.Distribution ? Envelope(notice, eventId, source) : Wharf(notice);

    private static string Wharf(WebhookNotice notice)
    {
        return Write(writer =>
        {
            writer.WriteString("event", WebhookText.Wire(notice.Event));
            writer.WriteString("action", notice.Action);
            writer.WriteString("occurred_at", notice.At);
            writer.WriteStartObject("repository");
            writer.WriteString("full_name", notice.Repository);
            writer.WriteString("namespace", notice.Namespace);
            writer.WriteString("name", notice.Namespace is { } ns ? notice.Repository[(ns.Length + 1)..] : notice.Repository);
            writer.WriteEndObject();
            switch (notice.Event)
            {
                case WebhookEvents.Push:
                    writer.WriteStartObject("push");
                    writer.WriteString("tag", notice.Tag);
                    writer.WriteStartArray("tags");
                    foreach (var tag in notice.Tags) writer.WriteStringValue(tag);
                    writer.WriteEndArray();
                    writer.WriteString("digest", notice.Digest);
                    writer.WriteString("media_type", notice.MediaType);
                    if (notice.Size is { } size) writer.WriteNumber("size", size);
                    writer.WriteString("pusher", notice.Actor);
                    writer.WriteEndObject();
                    break;
                case WebhookEvents.Delete:
                    writer.WriteStartObject("delete");
                    writer.WriteString("kind", notice.Action);
                    writer.WriteString("tag", notice.Tag);
                    writer.WriteString("digest", notice.Digest);
                    writer.WriteString("deleted_by", notice.Actor);
                    writer.WriteEndObject();
                    break;
                case WebhookEvents.Build when notice.Build is { } build:
                    writer.WriteStartObject("build");
                    writer.WriteString("id", build.Id);
                    writer.WriteString("state", build.State);
                    writer.WriteString("image", build.Image);
                    writer.WriteString("tag", build.Tag);
                    writer.WriteString("digest", build.Digest);
                    writer.WriteString("owner", notice.Actor);
                    if (build.ErrorKind is not null)
                    {
                        writer.WriteStartObject("error");
                        writer.WriteString("kind", build.ErrorKind);
                        writer.WriteString("message", build.ErrorMessage);
                        writer.WriteEndObject();
                    }
                    writer.WriteString("created_at", build.CreatedAt);
                    if (build.StartedAt is { } started) writer.WriteString("started_at", started);
                    if (build.FinishedAt is { } finished) writer.WriteString("finished_at", finished);
                    writer.WriteEndObject();
                    break;
            }
        });
    }

    private static string? Envelope(WebhookNotice notice, Guid eventId, WebhookSource source)
    {
        if (notice.Event == WebhookEvents.Build) return null;
        return Write(writer =>
        {
            writer.WriteStartArray("events");
            writer.WriteStartObject();
            writer.WriteString("id", eventId.ToString("D"));
            writer.WriteString("timestamp", notice.At);
            writer.WriteString("action", notice.Event == WebhookEvents.Push ? "push" : "delete");
            writer.WriteStartObject("target");
            if (notice.Event == WebhookEvents.Push)
            {
                writer.WriteString("mediaType", notice.MediaType);
                if (notice.Size is { } size)
                {
                    writer.WriteNumber("size", size);
                    writer.WriteNumber("length", size);
                }
            }
            if (notice.Digest is not null) writer.WriteString("digest", notice.Digest);
            writer.WriteString("repository", notice.Repository);
            if (notice.Event == WebhookEvents.Push && notice.Digest is not null && source.BaseUrl is { } baseUrl)
            {
                writer.WriteString("url", $"{baseUrl.TrimEnd('/')}/v2/{notice.Repository}/manifests/{notice.Digest}");
            }
            if (notice.Tag is not null) writer.WriteString("tag", notice.Tag);
            writer.WriteEndObject();
            writer.WriteStartObject("request");
            if (notice.Request is { } request)
            {
                writer.WriteString("id", request.Id);
                writer.WriteString("addr", request.Address);
                writer.WriteString("host", request.Host);
                writer.WriteString("method", request.Method);
                writer.WriteString("useragent", request.UserAgent);
            }
            writer.WriteEndObject();
            writer.WriteStartObject("actor");
            if (notice.Actor is not null) writer.WriteString("name", notice.Actor);
            writer.WriteEndObject();
            writer.WriteStartObject("source");
            writer.WriteString("addr", source.Address);
            writer.WriteString("instanceID", source.InstanceId);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
        });
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>This node, as the envelope's <c>source</c> names it, and the base URL content links use.</summary>
public sealed record WebhookSource(string Address, string InstanceId, string? BaseUrl)
{
    /// <summary>This process when the server did not say how it is reached (a store used without webhooks configured).</summary>
    public static WebhookSource ThisProcess { get; } = new(Environment.MachineName, Guid.NewGuid().ToString("D"), null);
}

/// <summary>A webhook that may watch a notice, as an outbox reads it inside the change's transaction.</summary>
public readonly record struct WatchingWebhook(Guid Id, string Events, string Format);

/// <summary>One pending delivery an outbox writes: to which webhook, the event's wire name, the exact body.</summary>
public readonly record struct OutboxDelivery(Guid WebhookId, string Event, string Payload);

/// <summary>The fan-out of one notice to the webhooks that watch its scope, the same on every provider.</summary>
public static class WebhookFanOut
{
    /// <summary>One delivery per webhook that asked for the notice's event and whose format has a body for it; one event id for all.</summary>
    public static IReadOnlyList<OutboxDelivery> Deliveries(WebhookNotice notice, IEnumerable<WatchingWebhook> webhooks, WebhookSource source)
    {
        ArgumentNullException.ThrowIfNull(notice);
        ArgumentNullException.ThrowIfNull(webhooks);
        var wire = WebhookText.Wire(notice.Event);
        var eventId = Guid.NewGuid();
        var deliveries = new List<OutboxDelivery>();
        foreach (var webhook in webhooks)
        {
            if (!webhook.Events.Split(',').Contains(wire, StringComparer.Ordinal)) continue;
            WebhookText.TryParseFormat(webhook.Format, out var format);
            if (WebhookPayloads.Build(notice, format, eventId, source) is { } payload) deliveries.Add(new OutboxDelivery(webhook.Id, wire, payload));
        }
        return deliveries;
    }
}
