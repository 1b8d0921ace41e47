using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Api;

/// <summary>One event seam: every change, through /v2 or /api/v1, reaches the audit log (deletes above all).</summary>
public sealed class RegistryEventsTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task Deletes_made_through_the_api_are_audited_like_deletes_through_v2()
    {
        using var alice = _http.Basic("alice");
        var registry = new RegistryClient(alice);
        await registry.PushImageAsync("alice/app", "v1", "one");
        await registry.PushImageAsync("alice/app", "v2", "two");
        var third = await registry.PushImageAsync("alice/app", "v3", "three");

        using (var tag = await alice.DeleteAsync("api/v1/repositories/alice/app/tags/v1")) Assert.Equal(HttpStatusCode.NoContent, tag.StatusCode);
        using (var manifest = await alice.DeleteAsync($"v2/alice/app/manifests/{third.Digest}")) Assert.Equal(HttpStatusCode.Accepted, manifest.StatusCode);
        using (var repository = await alice.DeleteAsync("api/v1/repositories/alice/app")) Assert.Equal(HttpStatusCode.NoContent, repository.StatusCode);

        var deletes = (await AuditAsync()).Where(e => e.Action == AuditActions.Delete).ToList();
        Assert.Contains(deletes, e => e is { Actor: "alice", Target: "alice/app:v1", Detail: "tag" });
        Assert.Contains(deletes, e => e.Actor == "alice" && e.Target == $"alice/app@{third.Digest}" && e.Detail == "manifest");
        Assert.Contains(deletes, e => e is { Actor: "alice", Target: "alice/app", Detail: "repository" });
        Assert.All(deletes, e => Assert.Equal("127.0.0.1", e.ClientAddress));
    }

    [Fact]
    public async Task Repository_creation_changes_and_visibility_are_audited_once_each()
    {
        using var alice = _http.Basic("alice");
        using (var created = await alice.PostAsJsonAsync("api/v1/repositories", new { @namespace = "alice", name = "tool", visibility = "private" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using (var described = await alice.PatchAsJsonAsync("api/v1/repositories/alice/tool", new { description = "a tool", readme = "# Tool" }))
        {
            Assert.Equal(HttpStatusCode.OK, described.StatusCode);
        }
        using (var published = await alice.PatchAsJsonAsync("api/v1/repositories/alice/tool", new { visibility = "public" }))
        {
            Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        }

        var events = (await AuditAsync()).Where(e => e.Target == "alice/tool").ToList();
        Assert.Single(events, e => e is { Action: AuditActions.RepositoryCreated, Actor: "alice", Detail: "private" });
        Assert.Single(events, e => e is { Action: AuditActions.RepositoryUpdated, Detail: "description,readme" });
        Assert.Single(events, e => e is { Action: AuditActions.VisibilityChanged, Detail: "public" });
    }

    [Fact]
    public async Task A_push_is_audited_and_its_new_repository_gets_the_default_visibility()
    {
        using var alice = _http.Basic("alice");
        var pushed = await new RegistryClient(alice).PushImageAsync("alice/fresh", "1.0");
        var push = Assert.Single(await AuditAsync(), e => e.Action == AuditActions.Push && e.Target == "alice/fresh:1.0");
        Assert.Equal(pushed.Digest.ToString(), push.Detail);
        using var anonymous = _http.Anonymous();
        using var hidden = await anonymous.GetAsync("api/v1/repositories/alice/fresh");
        Assert.Equal(HttpStatusCode.Unauthorized, hidden.StatusCode); // private by default: anonymous callers are told to sign in
    }

    private sealed record Audit(string Action, string? Actor, string? Target, string? Detail, string? ClientAddress);

    private async Task<List<Audit>> AuditAsync()
    {
        using var boss = _http.Basic("boss");
        var page = JsonDocument.Parse(await boss.GetStringAsync("api/v1/audit?limit=500")).RootElement;
        return [.. page.GetProperty("events").EnumerateArray().Select(e => new Audit(
            e.GetProperty("action").GetString()!, e.GetProperty("actor").GetString(), e.GetProperty("target").GetString(),
            e.GetProperty("detail").GetString(), e.GetProperty("client_address").GetString()))];
    }
}
