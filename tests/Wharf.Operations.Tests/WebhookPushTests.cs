using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>
/// Push and delete webhooks end to end, on each metadata provider: a real receiver on a loopback port gets exactly one
/// signed delivery per push (repository, tag, digest, pusher) and per deleted tag, written by the change's own
/// transaction into the outbox and sent by the dispatcher.
/// </summary>
public abstract class WebhookPushTests
{
    private const string Password = "webhook-pass-9876";
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    protected abstract WharfTestProviders Providers { get; }

    [Fact]
    public async Task Each_push_and_each_deleted_tag_is_delivered_once_signed_with_the_repository_tag_digest_and_pusher()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var server = await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts,
            $"--Wharf:Webhooks:AllowedTargets:0=127.0.0.1:{receiver.Port}", "--Wharf:Webhooks:PollInterval=00:00:00.200");
        using var http = server.CreateClient();
        using (var signup = await http.PostAsJsonAsync("api/v1/users", new { username = "alice", password = Password }, Ct))
        {
            Assert.True(signup.StatusCode == HttpStatusCode.Created, await signup.Content.ReadAsStringAsync(Ct));
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice:{Password}")));
        using (var created = await http.PostAsJsonAsync("api/v1/webhooks",
            new { url = receiver.Url(), secret = "push-secret", events = new[] { "push", "delete" }, @namespace = "alice" }, Ct))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync(Ct));
        }

        var first = await RegistryHttp.PushImageAsync(http, "alice/app", "v1", Ct);
        var second = await RegistryHttp.PushImageAsync(http, "alice/app", "v2", Ct);
        await RegistryHttp.PushImageAsync(http, "other/app", "v1", Ct); // alice administers (the first account); nobody watches other/
        using (var deleted = await http.DeleteAsync("v2/alice/app/manifests/v1", Ct))
        {
            Assert.True(deleted.StatusCode == HttpStatusCode.Accepted, await deleted.Content.ReadAsStringAsync(Ct));
        }

        var got = await receiver.WaitForAsync(3, Ct);
        Assert.All(got, hook => Assert.Equal(WebhookHarness.Signature("push-secret", hook.Body), hook.Header("X-Wharf-Signature-256")));
        Assert.Equal(3, got.Select(h => h.Header("X-Wharf-Delivery")).Distinct().Count());
        var pushes = got.Where(h => h.Header("X-Wharf-Event") == "push").Select(h => JsonNode.Parse(h.Text)!).ToList();
        Assert.Equal(2, pushes.Count);
        Assert.All(pushes, p =>
        {
            Assert.Equal("alice/app", p["repository"]!["full_name"]!.GetValue<string>());
            Assert.Equal("alice", p["push"]!["pusher"]!.GetValue<string>());
            Assert.True(p["push"]!["size"]!.GetValue<long>() > 0);
        });
        Assert.Equal([("v1", first), ("v2", second)],
            pushes.Select(p => (p["push"]!["tag"]!.GetValue<string>(), p["push"]!["digest"]!.GetValue<string>())).Order());
        var delete = JsonNode.Parse(Assert.Single(got, h => h.Header("X-Wharf-Event") == "delete").Text)!;
        Assert.Equal(("tag", "v1", "alice"), (delete["delete"]!["kind"]!.GetValue<string>(), delete["delete"]!["tag"]!.GetValue<string>(),
            delete["delete"]!["deleted_by"]!.GetValue<string>()));

        // Nothing more comes: one delivery per change, none for the namespace nobody watches.
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        quiet.CancelAfter(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiver.WaitForAsync(4, quiet.Token));
    }
}

public sealed class WebhookPushTestsOnSqlite : WebhookPushTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.Default;
}

public sealed class WebhookPushTestsOnPostgreSql : WebhookPushTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}
