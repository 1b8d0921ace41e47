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
        string digest;
        using (var http = wharf.CreateClient())
        {
            using var created = await http.PostAsJsonAsync("api/v1/webhooks",
                new { url = receiver.Url(), secret = "crash", events = new[] { "build", "push" }, repository = "crash/app" }, Ct);
            var hook = JsonNode.Parse(await created.Content.ReadAsStringAsync(Ct))!;
            Assert.True(created.StatusCode == HttpStatusCode.Created, hook.ToJsonString());
            hookId = hook["id"]!.GetValue<string>();
            buildId = await CancelQueuedBuildAsync(http, "crash/app:1");
            digest = await RegistryHttp.PushImageAsync(http, "crash/app", "v1", Ct);
            // Committed with the build's end and with the push, and not delivered: the first attempts found the receiver down.
            var pending = await WaitForDeliveriesAsync(http, hookId, 2, d => d["attempts"]!.GetValue<int>() >= 1);
            Assert.All(pending, d => Assert.Equal("pending", d["state"]!.GetValue<string>()));
        }

        await wharf.KillAsync(); // SIGKILL: no shutdown, nothing flushed
        receiver.Listen(port);
        await wharf.RestartAsync(Ct);

        var got = await receiver.WaitForAsync(2, Ct);
        Assert.All(got, hook => Assert.Equal(WebhookHarness.Signature("crash", hook.Body), hook.Header("X-Wharf-Signature-256")));
        var build = Assert.Single(got, h => h.Header("X-Wharf-Event") == "build");
        Assert.Equal(buildId, JsonNode.Parse(build.Text)!["build"]!["id"]!.GetValue<string>());
        var push = Assert.Single(got, h => h.Header("X-Wharf-Event") == "push");
        Assert.Equal(digest, JsonNode.Parse(push.Text)!["push"]!["digest"]!.GetValue<string>());
        using (var http = wharf.CreateClient())
        {
            var delivered = await WaitForDeliveriesAsync(http, hookId, 2, d => d["state"]!.GetValue<string>() == "delivered");
            Assert.Equal(got.Select(h => h.Header("X-Wharf-Delivery")).Order(), delivered.Select(d => d["id"]!.GetValue<string>()).Order());
            Assert.Equal(2, (await DeliveriesAsync(http, hookId)).Count); // one delivery per change, not one per start
        }
        Assert.Equal(2, receiver.Received.Count);
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

    private async Task<List<JsonNode>> WaitForDeliveriesAsync(HttpClient http, string hookId, int count, Func<JsonNode, bool> done)
    {
        while (true)
        {
            var list = (await DeliveriesAsync(http, hookId)).Select(d => d!).ToList();
            if (list.Count >= count && list.All(done)) return list;
            await Task.Delay(50, Ct);
        }
    }
}
