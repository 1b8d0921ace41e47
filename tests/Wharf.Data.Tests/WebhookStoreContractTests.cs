using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Wharf.Core.Builds;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Webhooks;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>
/// The behaviour every <see cref="IWebhookStore"/> provider and its outbox must have: webhooks by scope, deliveries
/// written in the very transaction of the push, delete or build end they report (none for a change that rolled back),
/// leases that two nodes never share, attempts with backoff, redelivery and configured endpoints. The clock is fake.
/// </summary>
public abstract class WebhookStoreContractTests : StoreContractTests
{
    private static readonly ChangeActor Alice = new("alice", "127.0.0.1");
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    protected override TimeProvider Time => _clock;

    private IWebhookStore Store => Database.Webhooks;

    private async Task<Webhook> AddAsync(WebhookScopeKind kind, string scope, WebhookEvents events = WebhookEvents.All, WebhookFormat format = WebhookFormat.Wharf, string? owner = "alice")
    {
        var webhook = new Webhook(Guid.NewGuid(), owner, kind, scope, $"http://127.0.0.1:1/{scope}", events, format,
            DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds()));
        await Store.CreateAsync(webhook, "protected-secret", Ct);
        _clock.Advance(TimeSpan.FromMilliseconds(5));
        return webhook;
    }

    private async Task<NewManifest> PushAsync(string repository, string tag)
    {
        await Database.Registry.LinkBlobAsync(repository, BlobDigest("c"), 7, Ct);
        await Database.Registry.LinkBlobAsync(repository, BlobDigest("l"), 100, Ct);
        var manifest = Image(BlobDigest("c"), [BlobDigest("l")], salt: repository + tag);
        var change = new ManifestPushed(repository, manifest.Digest, manifest.Manifest, tag, [tag], Alice, _clock.GetUtcNow());
        var result = await Database.Registry.PutManifestAsync(repository, manifest, [tag], change, Ct);
        Assert.Equal(PutManifestStatus.Stored, result.Status);
        return manifest;
    }

    private async Task<List<LeasedDelivery>> LeaseAllAsync() => [.. await Store.LeaseDueAsync(TimeSpan.FromMinutes(1), 100, Ct)];

    [Fact]
    public async Task Webhooks_are_listed_by_the_namespaces_that_own_them_and_removed()
    {
        var repo = await AddAsync(WebhookScopeKind.Repository, "team/app", WebhookEvents.Push);
        var ns = await AddAsync(WebhookScopeKind.Namespace, "team", WebhookEvents.Delete | WebhookEvents.Build, WebhookFormat.Distribution);
        var other = await AddAsync(WebhookScopeKind.Namespace, "other");
        await AddAsync(WebhookScopeKind.Repository, "rootrepo");

        Assert.Equal([repo.Id, ns.Id], (await Store.ListAsync(["team"], Ct)).Select(w => w.Id));
        Assert.Equal([repo.Id, ns.Id, other.Id], (await Store.ListAsync(["team", "other"], Ct)).Select(w => w.Id));
        Assert.Empty(await Store.ListAsync([], Ct));
        Assert.Equal(4, (await Store.ListAsync(null, Ct)).Count);

        var read = await Store.GetAsync(ns.Id, Ct);
        Assert.Equal(ns, read);
        Assert.True(await Store.DeleteAsync(repo.Id, Ct));
        Assert.False(await Store.DeleteAsync(repo.Id, Ct));
        Assert.Null(await Store.GetAsync(repo.Id, Ct));
    }

    [Fact]
    public async Task A_push_writes_one_delivery_per_watching_webhook_in_its_transaction()
    {
        var repo = await AddAsync(WebhookScopeKind.Repository, "team/app", WebhookEvents.Push);
        var ns = await AddAsync(WebhookScopeKind.Namespace, "team", WebhookEvents.Push, WebhookFormat.Distribution);
        await AddAsync(WebhookScopeKind.Namespace, "team", WebhookEvents.Delete); // not asked for pushes
        await AddAsync(WebhookScopeKind.Repository, "team/other", WebhookEvents.Push); // another repository

        var manifest = await PushAsync("team/app", "v1");

        var leased = await LeaseAllAsync();
        Assert.Equal(new[] { ns.Id, repo.Id }.Order(), leased.Select(d => d.WebhookId).Order());
        Assert.All(leased, d => Assert.Equal("push", d.Event));
        var wharf = JsonDocument.Parse(leased.Single(d => d.WebhookId == repo.Id).Payload).RootElement;
        Assert.Equal("push", wharf.GetProperty("event").GetString());
        Assert.Equal("team/app", wharf.GetProperty("repository").GetProperty("full_name").GetString());
        var push = wharf.GetProperty("push");
        Assert.Equal("v1", push.GetProperty("tag").GetString());
        Assert.Equal(manifest.Digest.ToString(), push.GetProperty("digest").GetString());
        Assert.Equal(manifest.Content.Length, push.GetProperty("size").GetInt64());
        Assert.Equal("alice", push.GetProperty("pusher").GetString());
        var envelope = JsonDocument.Parse(leased.Single(d => d.WebhookId == ns.Id).Payload).RootElement.GetProperty("events")[0];
        Assert.Equal("push", envelope.GetProperty("action").GetString());
        Assert.Equal(manifest.Digest.ToString(), envelope.GetProperty("target").GetProperty("digest").GetString());
        Assert.Equal(manifest.Content.Length, envelope.GetProperty("target").GetProperty("size").GetInt64());
        Assert.Equal("alice", envelope.GetProperty("actor").GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_change_that_rolls_back_leaves_no_delivery()
    {
        await AddAsync(WebhookScopeKind.Namespace, "team");
        Database.Fault.FailNext = true; // the journal after the outbox throws: the push and its deliveries go together
        await Assert.ThrowsAsync<InvalidOperationException>(() => PushAsync("team/app", "v1"));

        Assert.Null(await Database.Registry.ResolveTagAsync("team/app", "v1", Ct));
        Assert.Empty(await LeaseAllAsync());
        Assert.Null(await Store.NextDueAsync(Ct));
    }

    [Fact]
    public async Task Deletes_of_tags_and_manifests_are_delete_events()
    {
        var hook = await AddAsync(WebhookScopeKind.Repository, "team/app", WebhookEvents.Delete);
        var manifest = await PushAsync("team/app", "v1");
        Assert.True((await Database.Registry.DeleteTagAsync("team/app", "v1", new TagDeleted("team/app", "v1", Alice, _clock.GetUtcNow()), Ct)).IsDeleted);
        Assert.True((await Database.Registry.DeleteManifestAsync("team/app", manifest.Digest, new ManifestDeleted("team/app", manifest.Digest, Alice, _clock.GetUtcNow()), Ct)).IsDeleted);

        var deletes = (await LeaseAllAsync()).Select(d => JsonDocument.Parse(d.Payload).RootElement.GetProperty("delete")).ToList();
        Assert.Equal(2, deletes.Count);
        Assert.Contains(deletes, d => d.GetProperty("kind").GetString() == "tag" && d.GetProperty("tag").GetString() == "v1");
        Assert.Contains(deletes, d => d.GetProperty("kind").GetString() == "manifest" && d.GetProperty("digest").GetString() == manifest.Digest.ToString());
        Assert.All(deletes, d => Assert.Equal("alice", d.GetProperty("deleted_by").GetString()));
        Assert.Equal(2, (await Store.ListDeliveriesAsync(hook.Id, 10, Ct)).Count);
    }

    [Fact]
    public async Task A_build_that_ends_is_a_build_event_once()
    {
        await AddAsync(WebhookScopeKind.Namespace, "team", WebhookEvents.Build);
        var build = new BuildRecord
        {
            Id = Guid.NewGuid(), Owner = "alice", Namespace = "team", Image = "team/app:1", Repository = "team/app", Tag = "1",
            SourceKind = BuildSourceKind.Dockerfile, CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds()),
        };
        await Database.Builds.CreateAsync(build, Ct);
        var leased = await Database.Builds.LeaseNextAsync("w1", TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), 10, Ct);
        Assert.Empty(await LeaseAllAsync()); // running is not an end
        Assert.True(await Database.Builds.UpdateAsync(leased! with { State = BuildState.Succeeded, FinishedAt = _clock.GetUtcNow() }, "w1", Ct));
        Assert.False(await Database.Builds.UpdateAsync(leased! with { State = BuildState.Succeeded, FinishedAt = _clock.GetUtcNow() }, "w1", Ct));

        // A queued build cancelled ends too; cancelling it again does not send again.
        var queued = build with { Id = Guid.NewGuid(), Tag = "2", Image = "team/app:2" };
        await Database.Builds.CreateAsync(queued, Ct);
        Assert.Equal(BuildState.Cancelled, (await Database.Builds.CancelAsync(queued.Id, Ct))!.State);
        await Database.Builds.CancelAsync(queued.Id, Ct);

        var states = (await LeaseAllAsync()).Select(d => JsonDocument.Parse(d.Payload).RootElement.GetProperty("build").GetProperty("state").GetString()).Order().ToList();
        Assert.Equal(["cancelled", "succeeded"], states);
    }

    [Fact]
    public async Task Two_nodes_leasing_at_once_never_take_the_same_delivery()
    {
        await AddAsync(WebhookScopeKind.Namespace, "team", WebhookEvents.Push);
        for (var i = 0; i < 6; i++) await PushAsync("team/app", $"v{i}");
        var other = Database.OpenAnotherNode(_clock).Webhooks;

        var leases = await Task.WhenAll(
            Store.LeaseDueAsync(TimeSpan.FromMinutes(1), 4, Ct), other.LeaseDueAsync(TimeSpan.FromMinutes(1), 4, Ct),
            Store.LeaseDueAsync(TimeSpan.FromMinutes(1), 4, Ct));
        var ids = leases.SelectMany(l => l).Select(d => d.Id).ToList();
        Assert.Equal(6, ids.Count);
        Assert.Equal(6, ids.Distinct().Count());
        Assert.Empty(await LeaseAllAsync()); // all leased

        // A lease that lapses (a node died mid-send) gives the delivery to the next dispatcher.
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(6, (await other.LeaseDueAsync(TimeSpan.FromMinutes(1), 100, Ct)).Count);
    }

    [Fact]
    public async Task Attempts_are_recorded_retried_when_due_and_redelivered_as_new_deliveries()
    {
        var hook = await AddAsync(WebhookScopeKind.Repository, "team/app", WebhookEvents.Push);
        await PushAsync("team/app", "v1");
        var delivery = Assert.Single(await LeaseAllAsync());
        var retryAt = _clock.GetUtcNow().AddSeconds(30);
        await Store.RecordAttemptAsync(delivery.Id, new DeliveryAttempt(1, _clock.GetUtcNow(), 503, 12, "HTTP 503"), false, retryAt, Ct);

        Assert.Empty(await LeaseAllAsync()); // not due yet
        Assert.Equal(retryAt.ToUnixTimeMilliseconds(), (await Store.NextDueAsync(Ct))!.Value.ToUnixTimeMilliseconds());
        _clock.Advance(TimeSpan.FromSeconds(31));
        var again = Assert.Single(await LeaseAllAsync());
        Assert.Equal((delivery.Id, 1), (again.Id, again.Attempts));
        await Store.RecordAttemptAsync(delivery.Id, new DeliveryAttempt(2, _clock.GetUtcNow(), 200, 8, null), true, null, Ct);
        Assert.Null(await Store.NextDueAsync(Ct));

        var listed = Assert.Single(await Store.ListDeliveriesAsync(hook.Id, 10, Ct));
        Assert.Equal((DeliveryState.Delivered, 2, 200, 8L), (listed.State, listed.Attempts, listed.LastStatus, listed.LastDurationMs!.Value));
        Assert.NotNull(listed.FinishedAt);
        Assert.Equal([(1, (int?)503, 12L, "HTTP 503"), (2, 200, 8L, null)], listed.AttemptLog.Select(a => (a.Number, a.Status, a.DurationMs, a.Error)));

        _clock.Advance(TimeSpan.FromSeconds(1));
        var redelivery = await Store.RedeliverAsync(hook.Id, delivery.Id, Ct);
        Assert.NotNull(redelivery);
        Assert.Equal((DeliveryState.Pending, delivery.Id), (redelivery.State, redelivery.RedeliveryOf!.Value));
        Assert.Null(await Store.RedeliverAsync(Guid.NewGuid(), delivery.Id, Ct));
        var resent = Assert.Single(await LeaseAllAsync());
        Assert.Equal((redelivery.Id, delivery.Payload), (resent.Id, resent.Payload));
        Assert.Equal([redelivery.Id, delivery.Id], (await Store.ListDeliveriesAsync(hook.Id, 10, Ct)).Select(d => d.Id));
    }

    [Fact]
    public async Task Configured_endpoints_are_synced_by_name_and_see_everything()
    {
        var first = new ConfiguredWebhook("audit", "http://127.0.0.1:1/a", WebhookEvents.Push, WebhookFormat.Distribution, "p1", new Dictionary<string, string> { ["Authorization"] = "Bearer x" });
        var second = new ConfiguredWebhook("ci", "http://127.0.0.1:1/c", WebhookEvents.All, WebhookFormat.Wharf, "p2", new Dictionary<string, string>());
        await Store.SyncConfiguredAsync([first, second], Ct);
        await Store.SyncConfiguredAsync([first with { Url = "http://127.0.0.1:1/a2" }], Ct);

        var global = Assert.Single(await Store.ListAsync(null, Ct));
        Assert.Equal((WebhookScopeKind.Global, "audit", "http://127.0.0.1:1/a2"), (global.ScopeKind, global.Name, global.Url));
        Assert.Equal("Bearer x", global.Headers!["Authorization"]);

        await PushAsync("anyone/app", "v1");
        var delivery = Assert.Single(await LeaseAllAsync());
        Assert.Equal(("http://127.0.0.1:1/a2", "p1", WebhookFormat.Distribution), (delivery.Url, delivery.ProtectedSecret, delivery.Format));
    }
}

public sealed class SqliteWebhookStoreTests : WebhookStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlWebhookStoreTests : WebhookStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
