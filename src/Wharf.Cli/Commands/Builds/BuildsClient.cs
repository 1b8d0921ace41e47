using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Commands.Builds;

/// <summary>
/// A small HTTP client for <c>/api/v1/builds</c>, used by the build verbs until the shared client library covers
/// builds. Server: <c>--server</c>, else <c>WHARF_SERVER</c>, else http://localhost:5000; a token in
/// <c>WHARF_TOKEN</c> is sent as a bearer token.
/// </summary>
internal sealed class BuildsClient : IDisposable
{
    private readonly HttpClient _http;

    public BuildsClient(string? server)
    {
        var address = server ?? Environment.GetEnvironmentVariable("WHARF_SERVER") ?? "http://localhost:5000";
        if (!address.Contains("://", StringComparison.Ordinal)) address = "http://" + address;
        _http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
        if (Environment.GetEnvironmentVariable("WHARF_TOKEN") is { Length: > 0 } token)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public async Task<JsonNode> SubmitAsync(MultipartFormDataContent form, CancellationToken ct)
    {
        using var response = await _http.PostAsync("api/v1/builds", form, ct);
        return await ReadAsync(response, ct);
    }

    public async Task<JsonNode> GetAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        return await ReadAsync(response, ct);
    }

    public async Task<JsonNode> PostAsync(string path, CancellationToken ct)
    {
        using var response = await _http.PostAsync(path, null, ct);
        return await ReadAsync(response, ct);
    }

    public async Task<string> GetTextAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        if (!response.IsSuccessStatusCode) await ReadAsync(response, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    /// <summary>Follows <c>logs?follow=true</c>: each log line goes to <paramref name="onLine"/>; returns the final state.</summary>
    public async Task<string> FollowAsync(string id, Func<string, Task> onLine, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/builds/{Uri.EscapeDataString(id)}/logs?follow=true");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) await ReadAsync(response, ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        var eventName = "message";
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) eventName = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = line[6..];
                if (eventName == "end") return data;
                await onLine(data);
            }
            else if (line.Length == 0) eventName = "message";
        }
        return "unknown";
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? json = null;
        try { json = text.Length > 0 ? JsonNode.Parse(text) : null; } catch (JsonException) { }
        if (!response.IsSuccessStatusCode)
        {
            var detail = json?["detail"]?.GetValue<string>() ?? json?["message"]?.GetValue<string>() ?? text;
            throw new BuildsClientException($"{(int)response.StatusCode} {response.ReasonPhrase}: {detail}");
        }
        return json ?? new JsonObject();
    }

    public void Dispose() => _http.Dispose();
}

internal sealed class BuildsClientException(string message) : Exception(message);
