using System.Text.Json.Nodes;
using Wharf.Client.Api;
using Wharf.Client.Credentials;

namespace Wharf.Client.Policies;

/// <summary>
/// Wharf's storage rules: a repository's retention rules (<c>/api/v1/repositories/{repo}/retention</c>) and a namespace's
/// quota and usage (<c>/api/v1/namespaces/{ns}/quota</c>, <c>…/usage</c>). Bodies as JSON nodes.
/// </summary>
public sealed class PoliciesClient(Uri server, RegistryCredential? credential, HttpMessageHandler? transport = null)
    : ApiClient(server, credential, transport)
{
    public Task<JsonNode> GetRetentionAsync(string repository, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Get, $"api/v1/repositories/{repository}/retention", null, cancellationToken);

    /// <summary>Replaces the rules; every value null removes them.</summary>
    public Task<JsonNode> SetRetentionAsync(string repository, int? keepLast, int? keepPulledWithinDays, string? keepTagsMatching, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Put, $"api/v1/repositories/{repository}/retention", new JsonObject
        {
            ["keep_last"] = keepLast,
            ["keep_pulled_within_days"] = keepPulledWithinDays,
            ["keep_tags_matching"] = keepTagsMatching,
        }, cancellationToken);

    public Task<JsonNode> GetUsageAsync(string @namespace, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Get, $"api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/usage", null, cancellationToken);

    /// <summary>Sets the quota in bytes; null removes it.</summary>
    public Task<JsonNode> SetQuotaAsync(string @namespace, long? bytes, CancellationToken cancellationToken) =>
        SendJsonNodeAsync(HttpMethod.Put, $"api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/quota", new JsonObject { ["bytes"] = bytes }, cancellationToken);
}
