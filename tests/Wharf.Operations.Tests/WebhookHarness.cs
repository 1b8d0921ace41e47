using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Server;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>A Wharf on loopback (optionally on a fake clock) with helpers to add webhooks and make events happen.</summary>
internal sealed class WebhookHarness : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TempDirectory _data;

    private WebhookHarness(WebApplication app, TempDirectory data, string baseUrl)
    {
        _app = app;
        _data = data;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl + "/"), Timeout = TimeSpan.FromMinutes(1) };
    }

    public string BaseUrl { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts Wharf in open mode, no build workers, webhooks allowed to call loopback port <paramref name="receiverPort"/>.</summary>
    public static async Task<WebhookHarness> StartAsync(int receiverPort, TimeProvider? clock = null, params string[] args)
    {
        var data = TempDirectory.Create("webhooks");
        var app = await WharfServer.StartAsync(
            ["--urls", "http://127.0.0.1:0", "--data-dir", data.Path, "--Wharf:Auth:Mode=Open", "--workers", "0",
             $"--Wharf:Webhooks:AllowedTargets:0=127.0.0.1:{receiverPort}", "--Wharf:Webhooks:PollInterval=00:00:00.200", .. args],
            CancellationToken.None,
            builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                if (clock is not null) builder.Services.AddSingleton(clock);
            });
        return new WebhookHarness(app, data, WharfServer.BoundAddresses(app).First().TrimEnd('/'));
    }

    public async Task<JsonNode> AddWebhookAsync(object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await Http.PostAsJsonAsync("api/v1/webhooks", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Submits a build (no worker takes it) and cancels it while queued: a <c>build</c> event, cancelled.</summary>
    public async Task<string> CancelQueuedBuildAsync(string image)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("FROM scratch\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "dockerfile", "Dockerfile");
        form.Add(new StringContent(image), "image");
        using var submitted = await Http.PostAsync("api/v1/builds", form);
        var body = await submitted.Content.ReadAsStringAsync();
        Assert.True(submitted.StatusCode == HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        using var cancelled = await Http.PostAsync($"api/v1/builds/{id}/cancel", null);
        Assert.True(cancelled.IsSuccessStatusCode, await cancelled.Content.ReadAsStringAsync());
        return id;
    }

    public async Task<JsonArray> DeliveriesAsync(string webhookId)
    {
        var text = await Http.GetStringAsync($"api/v1/webhooks/{webhookId}/deliveries");
        return JsonNode.Parse(text)!["deliveries"]!.AsArray();
    }

    public static string Signature(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _data.DisposeAsync();
    }
}
