using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf webhook add|list|deliveries|redeliver|rm</c> as separate processes against a real Wharf and a real receiver.</summary>
public sealed class WebhookCliTests
{
    [Fact]
    public async Task Webhook_verbs_add_list_show_deliveries_redeliver_and_remove()
    {
        var ct = CancellationToken.None;
        await using var receiver = WebhookReceiver.Start();
        await using var home = TempDirectory.Create("whcli");
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Builds:Workers=0",
            $"--Wharf:Webhooks:AllowedTargets:0=127.0.0.1:{receiver.Port}", "--Wharf:Webhooks:PollInterval=00:00:00.200");
        var cli = new WharfCli(home);
        // The first account is the administrator (who may add webhooks anywhere); alice is an ordinary user.
        using (var http = server.CreateClient())
        using (var admin = await http.PostAsync("api/v1/users", new StringContent("""{"username":"boss","password":"boss-password"}""", Encoding.UTF8, "application/json"), ct))
        {
            Assert.True(admin.IsSuccessStatusCode, await admin.Content.ReadAsStringAsync(ct));
        }
        (await cli.RunAsync(["signup", "--server", server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();
        (await cli.RunAsync(["login", server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();

        // add: a generated secret is printed once; events as a comma list.
        var added = (await cli.RunAsync("webhook", "add", receiver.Url(), "--namespace", "alice", "--event", "build,push", "-o", "json")).EnsureSuccess();
        var id = (string)added.Json["id"]!;
        var secret = (string)added.Json["secret"]!;
        Assert.Equal(48, secret.Length);
        Assert.Equal(["build", "push"], added.Json["events"]!.AsArray().Select(e => (string)e!).Order(StringComparer.Ordinal));
        var plain = (await cli.RunAsync("webhook", "add", receiver.Url("/repo"), "-r", "alice/app", "--secret", "given")).EnsureSuccess();
        Assert.Contains("for alice/app: push", plain.Output);
        Assert.DoesNotContain("Signing secret", plain.Output); // a secret the user gave is not echoed

        var list = (await cli.RunAsync("webhook", "list")).EnsureSuccess();
        Assert.Contains(id, list.Output);
        Assert.Contains("alice/*", list.Output);
        Assert.Contains("alice/app", list.Output);

        // Refusals: a target outside the allow-list (a closed loopback port), both scopes at once, another's namespace.
        var refused = await cli.RunAsync("webhook", "add", $"http://127.0.0.1:{FreePort.Next()}/x", "-n", "alice");
        Assert.True(refused.ExitCode == 2, refused.Describe());
        Assert.Contains("AllowedTargets", refused.Error);
        var both = await cli.RunAsync("webhook", "add", receiver.Url(), "-n", "alice", "-r", "alice/app");
        Assert.True(both.ExitCode == 2, both.Describe());
        var foreign = await cli.RunAsync("webhook", "add", receiver.Url(), "-n", "bob");
        Assert.True(foreign.ExitCode != 0, foreign.Describe());
        Assert.Contains("owners of 'bob'", foreign.Error);

        // A build that ends (cancelled while queued) is delivered; deliveries shows it, redeliver sends it again.
        await CancelQueuedBuildAsync(server, "alice/app:1", "alice", "alices-password");
        var first = Assert.Single(await receiver.WaitForAsync(1, ct));
        Assert.Equal("sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), first.Body)), first.Header("X-Wharf-Signature-256"));
        JsonNode delivery;
        while (true)
        {
            var deliveries = (await cli.RunAsync("webhook", "deliveries", id, "-o", "json")).EnsureSuccess();
            delivery = Assert.Single(deliveries.Json["deliveries"]!.AsArray())!;
            if ((string)delivery["state"]! == "delivered") break;
            await Task.Delay(100, ct);
        }
        Assert.Equal(first.Header("X-Wharf-Delivery"), (string)delivery["id"]!);
        var text = (await cli.RunAsync("webhook", "deliveries", id)).EnsureSuccess();
        Assert.Matches($@"{(string)delivery["id"]!}\s+build\s+delivered\s+attempts 1\s+status 200", text.Output);
        (await cli.RunAsync("webhook", "redeliver", id, (string)delivery["id"]!)).EnsureSuccess();
        var again = await receiver.WaitForAsync(2, ct);
        Assert.Equal(first.Text, again[1].Text);

        // rm: gone from the list; removing it twice is "not found".
        (await cli.RunAsync("webhook", "rm", id)).EnsureSuccess();
        Assert.DoesNotContain(id, (await cli.RunAsync("webhook", "list")).EnsureSuccess().Output);
        var twice = await cli.RunAsync("webhook", "rm", id);
        Assert.True(twice.ExitCode == 3, twice.Describe());
    }

    private static async Task CancelQueuedBuildAsync(WharfTestServer server, string image, string user, string password)
    {
        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("FROM scratch\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "dockerfile", "Dockerfile");
        form.Add(new StringContent(image), "image");
        using var submitted = await http.PostAsync("api/v1/builds", form);
        var body = await submitted.Content.ReadAsStringAsync();
        Assert.True(submitted.IsSuccessStatusCode, body);
        var id = (string)JsonNode.Parse(body)!["id"]!;
        using var cancelled = await http.PostAsync($"api/v1/builds/{id}/cancel", null);
        Assert.True(cancelled.IsSuccessStatusCode, await cancelled.Content.ReadAsStringAsync());
    }
}
