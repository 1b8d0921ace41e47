using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>Webhooks against a real receiver on a loopback port: signing, retries with backoff, the allow-list, deliveries and redelivery.</summary>
public sealed class WebhookTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task A_build_that_ends_is_delivered_once_as_a_signed_json_post()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var wharf = await WebhookHarness.StartAsync(receiver.Port);
        var hook = await wharf.AddWebhookAsync(new { url = receiver.Url(), secret = "s3cret-hook", events = new[] { "build" }, @namespace = "hooks" });
        Assert.Equal(["build"], hook["events"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Null(hook["secret"]); // never shown again
        await wharf.AddWebhookAsync(new { url = receiver.Url("/other-namespace"), secret = "k", events = new[] { "build" }, @namespace = "elsewhere" });
        await wharf.AddWebhookAsync(new { url = receiver.Url("/other-events"), secret = "k", events = new[] { "push", "delete" }, @namespace = "hooks" });

        var buildId = await wharf.CancelQueuedBuildAsync("hooks/app:1");
        var got = Assert.Single(await receiver.WaitForAsync(1, Ct));
        Assert.Equal("POST", got.Method);
        Assert.Equal("/hook", got.Path);
        Assert.Equal("build", got.Header("X-Wharf-Event"));
        Assert.True(Guid.TryParse(got.Header("X-Wharf-Delivery"), out var deliveryId));
        Assert.Equal(WebhookHarness.Signature("s3cret-hook", got.Body), got.Header("X-Wharf-Signature-256"));
        Assert.StartsWith("application/json", got.Header("Content-Type"));
        var body = JsonNode.Parse(got.Text)!;
        Assert.Equal("build", body["event"]!.GetValue<string>());
        Assert.Equal("hooks/app", body["repository"]!["full_name"]!.GetValue<string>());
        Assert.Equal(buildId, body["build"]!["id"]!.GetValue<string>());
        Assert.Equal("cancelled", body["build"]!["state"]!.GetValue<string>());

        // The delivery shows as delivered, with the receiver's status and a duration; nothing is sent twice.
        var deliveries = await WaitForStateAsync(wharf, hook["id"]!.GetValue<string>(), "delivered");
        var delivery = Assert.Single(deliveries);
        Assert.Equal(deliveryId.ToString("D"), delivery!["id"]!.GetValue<string>());
        Assert.Equal(200, delivery["status"]!.GetValue<int>());
        Assert.Equal(1, delivery["attempts"]!.GetValue<int>());
        Assert.True(delivery["duration_ms"]!.GetValue<long>() >= 0);

        // A webhook of another namespace and one for other events had nothing queued, so nothing is ever sent to them.
        foreach (var other in JsonNode.Parse(await wharf.Http.GetStringAsync("api/v1/webhooks"))!["webhooks"]!.AsArray())
        {
            if (other!["id"]!.GetValue<string>() != hook["id"]!.GetValue<string>()) Assert.Empty(await wharf.DeliveriesAsync(other["id"]!.GetValue<string>()));
        }
        Assert.Single(receiver.Received);
    }

    [Fact]
    public async Task A_receiver_down_for_30_seconds_gets_the_delivery_when_it_is_back()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var receiver = WebhookReceiver.Start();
        var port = receiver.Port;
        await using var wharf = await WebhookHarness.StartAsync(port, clock, "--Wharf:Webhooks:InitialRetryDelay=00:00:10");
        var hook = await wharf.AddWebhookAsync(new { url = receiver.Url(), secret = "k", events = new[] { "build" }, repository = "down/app" });
        var id = hook["id"]!.GetValue<string>();
        await receiver.StopAsync(); // the port now refuses connections

        await wharf.CancelQueuedBuildAsync("down/app:1");
        // Attempt 1 fails at once; attempt 2 is due 10 s later, attempt 3 20 s after that (30 s in all).
        await WaitForAttemptsAsync(wharf, id, 1);
        clock.Advance(TimeSpan.FromSeconds(10));
        await WaitForAttemptsAsync(wharf, id, 2);
        var failed = (await wharf.DeliveriesAsync(id)).Single()!;
        Assert.Equal("pending", failed["state"]!.GetValue<string>());
        Assert.Null(failed["status"]);
        Assert.False(string.IsNullOrEmpty(failed["error"]!.GetValue<string>()));
        Assert.Equal(2, failed["attempt_log"]!.AsArray().Count);

        receiver.Listen(port); // back after 30 s
        clock.Advance(TimeSpan.FromSeconds(20));
        var got = Assert.Single(await receiver.WaitForAsync(1, Ct));
        Assert.Equal("build", got.Header("X-Wharf-Event"));
        var delivered = (await WaitForStateAsync(wharf, id, "delivered")).Single()!;
        Assert.Equal(3, delivered["attempts"]!.GetValue<int>());
        Assert.Equal(200, delivered["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Attempts_stop_at_the_limit_and_a_given_up_delivery_can_be_redelivered()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var receiver = WebhookReceiver.Start();
        receiver.Status = 500;
        await using var wharf = await WebhookHarness.StartAsync(receiver.Port, clock, "--Wharf:Webhooks:MaxAttempts=2", "--Wharf:Webhooks:InitialRetryDelay=00:00:05");
        var hook = await wharf.AddWebhookAsync(new { url = receiver.Url(), secret = "k", events = new[] { "build" }, repository = "limit/app" });
        var id = hook["id"]!.GetValue<string>();
        await wharf.CancelQueuedBuildAsync("limit/app:1");
        await WaitForAttemptsAsync(wharf, id, 1);
        clock.Advance(TimeSpan.FromSeconds(5));
        var failed = (await WaitForStateAsync(wharf, id, "failed")).Single()!;
        Assert.Equal(2, failed["attempts"]!.GetValue<int>());
        Assert.Equal(500, failed["status"]!.GetValue<int>());
        clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(2, receiver.Received.Count); // no third attempt, however long one waits

        receiver.Status = 204;
        using var redeliver = await wharf.Http.PostAsync($"api/v1/webhooks/{id}/deliveries/{failed["id"]}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        var again = await receiver.WaitForAsync(3, Ct);
        Assert.Equal(again[0].Text, again[2].Text); // the same payload
        Assert.NotEqual(again[0].Header("X-Wharf-Delivery"), again[2].Header("X-Wharf-Delivery"));
        var list = await WaitForStateAsync(wharf, id, "delivered");
        Assert.Equal(failed["id"]!.GetValue<string>(), list[0]!["redelivery_of"]!.GetValue<string>());
    }

    [Fact]
    public async Task Loopback_and_private_targets_are_refused_unless_the_operator_allows_them()
    {
        using var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var closedPort = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // a closed loopback port: nothing is ever sent there
        await using var wharf = await WebhookHarness.StartAsync(closedPort + 1 > 65535 ? closedPort - 1 : closedPort + 1);
        foreach (var url in (string[])[$"http://127.0.0.1:{closedPort}/hook", $"http://localhost:{closedPort}/hook", $"http://[::1]:{closedPort}/hook", $"http://127.0.0.2:{closedPort}/hook"])
        {
            var refused = await wharf.AddWebhookAsync(new { url, secret = "k", events = new[] { "push" }, repository = "a/b" }, HttpStatusCode.BadRequest);
            Assert.Contains("AllowedTargets", refused["detail"]!.GetValue<string>());
            Assert.Equal("url", refused["field"]!.GetValue<string>());
        }
        foreach (var (body, field) in new (object, string)[]
                 {
                     (new { url = "ftp://127.0.0.1/x", secret = "k", events = new[] { "push" }, repository = "a/b" }, "url"),
                     (new { url = "http://u:p@127.0.0.1/x", secret = "k", events = new[] { "push" }, repository = "a/b" }, "url"),
                     (new { url = $"http://127.0.0.1:{closedPort}/x", secret = "", events = new[] { "push" }, repository = "a/b" }, "secret"),
                     (new { url = $"http://127.0.0.1:{closedPort}/x", secret = "k", events = new[] { "pull" }, repository = "a/b" }, "events"),
                     (new { url = $"http://127.0.0.1:{closedPort}/x", secret = "k", events = new[] { "push" }, repository = "A//b" }, "repository"),
                 })
        {
            var refused = await wharf.AddWebhookAsync(body, HttpStatusCode.BadRequest);
            Assert.Equal(field, refused["field"]!.GetValue<string>());
        }
        Assert.Empty(JsonNode.Parse(await wharf.Http.GetStringAsync("api/v1/webhooks"))!["webhooks"]!.AsArray());
    }

    private async Task WaitForAttemptsAsync(WebhookHarness wharf, string id, int attempts)
    {
        while (true)
        {
            var list = await wharf.DeliveriesAsync(id);
            if (list.Count > 0 && list[0]!["attempts"]!.GetValue<int>() >= attempts) return;
            await Task.Delay(20, Ct);
        }
    }

    private async Task<JsonArray> WaitForStateAsync(WebhookHarness wharf, string id, string state)
    {
        while (true)
        {
            var list = await wharf.DeliveriesAsync(id);
            if (list.Count > 0 && list[0]!["state"]!.GetValue<string>() == state) return list;
            await Task.Delay(20, Ct);
        }
    }
}
