using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>
/// Who manages which webhooks in accounts mode: the owners of the namespace (the user it is named after, every owner of
/// the organization, an administrator); to members who are not owners and to strangers the webhooks do not exist.
/// </summary>
public sealed class WebhookAuthorizationTests
{
    private const string Password = "correct-horse-battery";

    [Fact]
    public async Task Only_the_owners_of_a_namespace_add_list_see_and_remove_its_webhooks()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var wharf = await WebhookHarness.StartAsync(receiver.Port, null, "--Wharf:Auth:Mode=Accounts");
        foreach (var user in (string[])["boss", "alice", "bob", "carol", "dave"]) await SignUpAsync(wharf, user); // boss: the first, the administrator
        using var alice = Basic(wharf, "alice");
        using var bob = Basic(wharf, "bob");
        using var carol = Basic(wharf, "carol");
        using var dave = Basic(wharf, "dave");
        using var boss = Basic(wharf, "boss");
        using (var created = await alice.PostAsJsonAsync("api/v1/orgs", new { name = "acme" })) Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var owner = await alice.PutAsJsonAsync("api/v1/orgs/acme/members/carol", new { role = "owner" })) Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        using (var maintainer = await alice.PutAsJsonAsync("api/v1/orgs/acme/members/bob", new { role = "maintainer" })) Assert.Equal(HttpStatusCode.OK, maintainer.StatusCode);

        object Hook(string? repository = null, string? ns = null) => new { url = receiver.Url(), secret = "k", events = new[] { "push", "delete", "build" }, repository, @namespace = ns };

        // Nobody signed in: 401. A maintainer of the organization, or a stranger: 403 naming the namespace's owners.
        using (var anonymous = await wharf.Http.PostAsJsonAsync("api/v1/webhooks", Hook(ns: "acme"))) Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        foreach (var (client, body) in new (HttpClient, object)[] { (bob, Hook(ns: "acme")), (bob, Hook(repository: "acme/app")), (dave, Hook(ns: "acme")), (alice, Hook(repository: "bob/app")) })
        {
            using var refused = await client.PostAsJsonAsync("api/v1/webhooks", body);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, text);
            Assert.Contains("Only the owners of", JsonNode.Parse(text)!["detail"]!.GetValue<string>());
        }

        // Owners add; each owner sees and may remove what another owner added.
        var acmeHook = await CreateAsync(alice, Hook(ns: "acme"));
        var appHook = await CreateAsync(carol, Hook(repository: "acme/app"));
        var bobsHook = await CreateAsync(bob, Hook(repository: "bob/tools"));
        Assert.Equal("alice", acmeHook["owner"]!.GetValue<string>());
        List<string> acme = [.. new[] { acmeHook["id"]!.GetValue<string>(), appHook["id"]!.GetValue<string>() }.Order(StringComparer.Ordinal)];
        Assert.Equal(acme, await ListIdsAsync(alice));
        Assert.Equal(acme, await ListIdsAsync(carol));
        Assert.Equal([bobsHook["id"]!.GetValue<string>()], await ListIdsAsync(bob));
        Assert.Empty(await ListIdsAsync(dave));
        Assert.Equal(3, (await ListIdsAsync(boss)).Count);

        // Not an owner: the webhook, its deliveries and its removal are all 404, as if it did not exist.
        foreach (var client in (HttpClient[])[bob, dave])
        {
            using (var get = await client.GetAsync($"api/v1/webhooks/{acmeHook["id"]}")) Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            using (var deliveries = await client.GetAsync($"api/v1/webhooks/{acmeHook["id"]}/deliveries")) Assert.Equal(HttpStatusCode.NotFound, deliveries.StatusCode);
            using (var delete = await client.DeleteAsync($"api/v1/webhooks/{acmeHook["id"]}")) Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        }
        using (var get = await carol.GetAsync($"api/v1/webhooks/{acmeHook["id"]}")) Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using (var deliveries = await carol.GetAsync($"api/v1/webhooks/{acmeHook["id"]}/deliveries")) Assert.Equal(HttpStatusCode.OK, deliveries.StatusCode);
        using (var delete = await carol.DeleteAsync($"api/v1/webhooks/{acmeHook["id"]}")) Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using (var gone = await alice.GetAsync($"api/v1/webhooks/{acmeHook["id"]}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        // An owner who leaves the organization loses its webhooks, even the ones they added.
        using (var demoted = await alice.PutAsJsonAsync("api/v1/orgs/acme/members/carol", new { role = "reader" })) Assert.Equal(HttpStatusCode.OK, demoted.StatusCode);
        using (var lost = await carol.GetAsync($"api/v1/webhooks/{appHook["id"]}")) Assert.Equal(HttpStatusCode.NotFound, lost.StatusCode);
        Assert.Empty(await ListIdsAsync(carol));
        Assert.Equal([appHook["id"]!.GetValue<string>()], await ListIdsAsync(alice));
    }

    private static async Task SignUpAsync(WebhookHarness wharf, string user)
    {
        using var response = await wharf.Http.PostAsJsonAsync("api/v1/users", new { username = user, password = Password });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"sign-up of {user}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static HttpClient Basic(WebhookHarness wharf, string user)
    {
        var client = new HttpClient { BaseAddress = new Uri(wharf.BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(1) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{Password}")));
        return client;
    }

    private static async Task<JsonNode> CreateAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("api/v1/webhooks", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>The ids listed, sorted (two webhooks made in one millisecond have no order of their own).</summary>
    private static async Task<List<string>> ListIdsAsync(HttpClient client)
    {
        var list = JsonNode.Parse(await client.GetStringAsync("api/v1/webhooks"))!["webhooks"]!.AsArray();
        return [.. list.Select(w => w!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal)];
    }
}
