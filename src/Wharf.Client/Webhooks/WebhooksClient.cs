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
        return SendJsonAsync(HttpMethod.Post, "api/v1/webhooks", body, cancellationToken);
    }

    public Task<JsonNode> ListAsync(CancellationToken cancellationToken) => SendJsonAsync(HttpMethod.Get, "api/v1/webhooks", null, cancellationToken);

    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/webhooks/{Uri.EscapeDataString(id)}"), cancellationToken);
    }

    public Task<JsonNode> DeliveriesAsync(string id, int? limit, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"api/v1/webhooks/{Uri.EscapeDataString(id)}/deliveries" + (limit is { } n ? $"?limit={n}" : ""), null, cancellationToken);

    public Task<JsonNode> RedeliverAsync(string id, string deliveryId, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Post, $"api/v1/webhooks/{Uri.EscapeDataString(id)}/deliveries/{Uri.EscapeDataString(deliveryId)}/redeliver", null, cancellationToken);

    private async Task<JsonNode> SendJsonAsync(HttpMethod method, string url, JsonNode? body, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        using var response = await SendRawAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            return JsonNode.Parse(text) ?? throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered an empty body.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered something that is not JSON: {e.Message}");
        }
    }
}
