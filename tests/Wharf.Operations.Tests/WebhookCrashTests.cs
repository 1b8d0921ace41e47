using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>The outbox against a real <c>wharf serve</c> process killed with SIGKILL: what was committed is delivered after the restart.</summary>
public sealed class WebhookCrashTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task A_server_killed_between_the_commit_and_the_delivery_delivers_it_after_the_restart()
    {
        // The receiver's port is closed until the server is dead: whatever arrives was sent by the restarted server.
        await using var receiver = WebhookReceiver.Start();
        var port = receiver.Port;
        await receiver.StopAsync();
        await using var data = TempDirectory.Create("whkill");
        await using var wharf = await WharfProcess.StartAsync(data.Combine("data"),
            ["--Wharf:Auth:Mode=Open", $"--Wharf:Webhooks:AllowedTargets:0=127.0.0.1:{port}", "--Wharf:Webhooks:InitialRetryDelay=00:00:02",
             "--Wharf:Webhooks:PollInterval=00:00:00.500"], Ct);
        string hookId;
        string buildId;
        using (var http = wharf.CreateClient())
        {
            using var created = await http.PostAsJsonAsync("api/v1/webhooks", new { url = receiver.Url(), secret = "crash", events = new[] { "build" }, repository = "crash/app" }, Ct);
            var hook = JsonNode.Parse(await created.Content.ReadAsStringAsync(Ct))!;
            Assert.True(created.StatusCode == HttpStatusCode.Created, hook.ToJsonString());
            hookId = hook["id"]!.GetValue<string>();
            buildId = await CancelQueuedBuildAsync(http, "crash/app:1");
            // Committed with the build's end, and not delivered: the first attempt found the receiver down.
            var pending = await WaitForDeliveryAsync(http, hookId, d => d["attempts"]!.GetValue<int>() >= 1);
            Assert.Equal("pending", pending["state"]!.GetValue<string>());
        }

        await wharf.KillAsync(); // SIGKILL: no shutdown, nothing flushed
        receiver.Listen(port);
        await wharf.RestartAsync(Ct);

        var got = Assert.Single(await receiver.WaitForAsync(1, Ct));
        Assert.Equal("build", got.Header("X-Wharf-Event"));
        Assert.Equal(WebhookHarness.Signature("crash", got.Body), got.Header("X-Wharf-Signature-256"));
        Assert.Equal(buildId, JsonNode.Parse(got.Text)!["build"]!["id"]!.GetValue<string>());
        using (var http = wharf.CreateClient())
        {
            var delivered = await WaitForDeliveryAsync(http, hookId, d => d["state"]!.GetValue<string>() == "delivered");
            Assert.Equal(got.Header("X-Wharf-Delivery"), delivered["id"]!.GetValue<string>());
            Assert.Single(await DeliveriesAsync(http, hookId)); // one delivery, not one per start
        }
        Assert.Single(receiver.Received);
    }

    private static async Task<string> CancelQueuedBuildAsync(HttpClient http, string image)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("FROM scratch\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "dockerfile", "Dockerfile");
        form.Add(new StringContent(image), "image");
        using var submitted = await http.PostAsync("api/v1/builds", form);
        var body = await submitted.Content.ReadAsStringAsync();
        Assert.True(submitted.StatusCode == HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        using var cancelled = await http.PostAsync($"api/v1/builds/{id}/cancel", null);
        Assert.True(cancelled.IsSuccessStatusCode, await cancelled.Content.ReadAsStringAsync());
        return id;
    }

    private static async Task<JsonArray> DeliveriesAsync(HttpClient http, string hookId) =>
        JsonNode.Parse(await http.GetStringAsync($"api/v1/webhooks/{hookId}/deliveries"))!["deliveries"]!.AsArray();

    private async Task<JsonNode> WaitForDeliveryAsync(HttpClient http, string hookId, Func<JsonNode, bool> done)
    {
        while (true)
        {
            var list = await DeliveriesAsync(http, hookId);
            if (list.Count > 0 && done(list[0]!)) return list[0]!;
            await Task.Delay(50, Ct);
        }
    }
}
