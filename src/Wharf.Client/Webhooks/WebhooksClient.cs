using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Wharf.Client.Api;
using Wharf.Client.Credentials;

namespace Wharf.Client.Webhooks;

/// <summary>Wharf's webhooks API (<c>/api/v1/webhooks</c>): add, list, remove, deliveries, redeliver. Bodies as JSON nodes.</summary>
public sealed class WebhooksClient(Uri server, RegistryCredential? credential, HttpMessageHandler? transport = null)
    : ApiClient(server, credential, transport)
{
    public Task<JsonNode> AddAsync(string url, string secret, IReadOnlyList<string> events, string? repository, string? @namespace, string? format, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["url"] = url,
            ["secret"] = secret,
            ["events"] = new JsonArray(events.Select(e => (JsonNode)JsonValue.Create(e)).ToArray()),
            ["repository"] = repository,
            ["namespace"] = @namespace,
            ["format"] = format,
        };
        return SendJsonNodeAsync(HttpMethod.Post, "api/v1/webhooks", body, cancellationToken);
    }

    public Task<JsonNode> ListAsync(CancellationToken cancellationToken) => SendJsonNodeAsync(HttpMethod.Get, "api/v1/webhooks", null, cancellationToken);

    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/webhooks/{Uri.EscapeDataString(id)}"), cancellationToken);
    }

    public Task<JsonNode> DeliveriesAsync(string id, int? limit, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Get, $"api/v1/webhooks/{Uri.EscapeDataString(id)}/deliveries" + (limit is { } n ? $"?limit={n}" : ""), null, cancellationToken);

    public Task<JsonNode> RedeliverAsync(string id, string deliveryId, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Post, $"api/v1/webhooks/{Uri.EscapeDataString(id)}/deliveries/{Uri.EscapeDataString(deliveryId)}/redeliver", null, cancellationToken);
}
