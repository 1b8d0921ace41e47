using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Server.Tests.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Gc;

/// <summary>
/// Retention rules per repository (<c>PUT|GET /api/v1/repositories/{repo}/retention</c>) applied in the collector's pass:
/// a dry run lists the tags it would delete and changes nothing; a real run deletes them (each audited as the server's
/// tag delete), then the manifests and blobs nothing else keeps; immutable tags stay whatever the rules say.
/// </summary>
public class RetentionTests : IAsyncLifetime
{
    private AccountsHttp _accounts = null!;
    private HttpClient _boss = null!;

    protected virtual WharfTestProviders Providers => WharfTestProviders.Default;

    protected virtual Task<string[]> ServerArgsAsync(string[] args) => Task.FromResult(args);

    public async Task InitializeAsync()
    {
        var server = await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts,
            await ServerArgsAsync(["--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false"]));
        _accounts = new AccountsHttp(server);
        await _accounts.SignUpAsync("boss"); // the first user: an administrator
        await _accounts.SignUpAsync("alice");
        _boss = _accounts.Basic("boss");
    }

    public async Task DisposeAsync()
    {
        _boss.Dispose();
        await _accounts.Server.DisposeAsync();
    }

    private RegistryClient Registry => new(_boss);

    private async Task<JsonElement> CollectAsync(bool dryRun)
    {
        using var response = await _boss.PostAsJsonAsync("api/v1/gc", new { dry_run = dryRun });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /api/v1/gc answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<string> Tags(JsonElement report) =>
        [.. report.GetProperty("tags").EnumerateArray().Select(t => $"{t.GetProperty("repository").GetString()}:{t.GetProperty("tag").GetString()}")];

    [Fact]
    public async Task Rules_delete_the_tags_no_rule_keeps_and_a_dry_run_only_lists_them()
    {
        // Oldest first: stable (kept by the pattern), t1 and t2 (expired), t3 and t4 (the last two).
        var images = new Dictionary<string, PushedImage>();
        foreach (var tag in new[] { "stable", "t1", "t2", "t3", "t4" }) images[tag] = await Registry.PushImageAsync("boss/app", tag, salt: tag);
        var other = await Registry.PushImageAsync("boss/other", "t1", salt: "other"); // no rules: untouched

        using (var set = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_last = 2, keep_tags_matching = "stable|release-.*" }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }
        using (var shown = await ReadJsonAsync(await _boss.GetAsync("api/v1/repositories/boss/app/retention")))
        {
            Assert.Equal(2, shown.RootElement.GetProperty("keep_last").GetInt32());
            Assert.Equal(JsonValueKind.Null, shown.RootElement.GetProperty("keep_pulled_within_days").ValueKind);
            Assert.Equal("stable|release-.*", shown.RootElement.GetProperty("keep_tags_matching").GetString());
        }

        var dry = await CollectAsync(dryRun: true);
        Assert.Equal(["boss/app:t1", "boss/app:t2"], Tags(dry));
        Assert.Equal(2, dry.GetProperty("run").GetProperty("tags_deleted").GetInt64());
        using (var still = await _boss.GetAsync("v2/boss/app/manifests/t1")) Assert.Equal(HttpStatusCode.OK, still.StatusCode);

        var run = await CollectAsync(dryRun: false);
        Assert.Equal(["boss/app:t1", "boss/app:t2"], Tags(run));
        Assert.Equal(2, run.GetProperty("run").GetProperty("tags_deleted").GetInt64());
        Assert.Equal(2, run.GetProperty("run").GetProperty("manifests_deleted").GetInt64()); // their images went in the same pass
        Assert.Equal(4, run.GetProperty("run").GetProperty("blobs_deleted").GetInt64());

        var blobs = _accounts.Server.Services.GetRequiredService<IBlobStore>();
        foreach (var gone in new[] { "t1", "t2" })
        {
            using var tag = await _boss.GetAsync($"v2/boss/app/manifests/{gone}");
            await AssertErrorAsync(tag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
            Assert.Null(await blobs.StatAsync(images[gone].Layer, CancellationToken.None));
        }
        foreach (var kept in new[] { "stable", "t3", "t4" })
        {
            using var tag = await _boss.GetAsync($"v2/boss/app/manifests/{kept}");
            Assert.Equal(HttpStatusCode.OK, tag.StatusCode);
            Assert.Equal(images[kept].Digest, Digest.Compute(await tag.Content.ReadAsByteArrayAsync()));
            Assert.Equal(images[kept].Layer, Digest.Compute(await _boss.GetByteArrayAsync($"v2/boss/app/blobs/{images[kept].Layer}")));
        }
        using (var untouched = await _boss.GetAsync("v2/boss/other/manifests/t1")) Assert.Equal(HttpStatusCode.OK, untouched.StatusCode);
        Assert.NotNull(await blobs.StatAsync(other.Layer, CancellationToken.None));

        // Each deletion is in the audit log as the server's tag delete.
        using var audit = await ReadJsonAsync(await _boss.GetAsync("api/v1/audit?limit=100"));
        var deletes = audit.RootElement.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("action").GetString() == "registry.delete" && e.GetProperty("detail").GetString() == "tag")
            .ToList();
        Assert.Equal(["boss/app:t1", "boss/app:t2"], deletes.Select(e => e.GetProperty("target").GetString()).Order(StringComparer.Ordinal));
        Assert.All(deletes, e => Assert.Equal(JsonValueKind.Null, e.GetProperty("actor").ValueKind));

        // Nothing left for the rules: the next run deletes no tag.
        Assert.Empty(Tags(await CollectAsync(dryRun: false)));
    }

    [Fact]
    public async Task A_dry_run_reports_the_figures_of_the_real_run_that_follows_retention_included()
    {
        // t1 and t2 expire (keep_last 1 keeps t3); t1 shares its layer with t3, so only t1's config goes with it. An untagged
        // image and an upload that no manifest names go too, as they would without rules.
        var shared = Bytes("a layer t1 and t3 share");
        var sharedLayer = await Registry.PushBlobAsync("boss/app", shared);
        foreach (var tag in new[] { "t1", "t3" })
        {
            var config = Bytes($$"""{"architecture":"amd64","os":"linux","salt":"{{tag}}"}""");
            var configDigest = await Registry.PushBlobAsync("boss/app", config);
            await Registry.PushManifestAsync("boss/app", tag, ImageManifest((configDigest, config.Length), [(sharedLayer, shared.Length)]));
            if (tag == "t1") await Registry.PushImageAsync("boss/app", "t2", salt: "t2");
        }
        var untagged = await Registry.PushImageAsync("boss/other", "gone", salt: "untagged");
        using (var untag = await _boss.DeleteAsync("v2/boss/other/manifests/gone")) Assert.Equal(HttpStatusCode.Accepted, untag.StatusCode);
        await Registry.PushBlobAsync("boss/other", Bytes("an upload no manifest names"));
        using (var set = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_last = 1 })) Assert.Equal(HttpStatusCode.OK, set.StatusCode);

        var dry = (await CollectAsync(dryRun: true)).GetProperty("run");
        var run = (await CollectAsync(dryRun: false)).GetProperty("run");
        Assert.Equal(2, run.GetProperty("tags_deleted").GetInt64());
        Assert.Equal(3, run.GetProperty("manifests_deleted").GetInt64()); // t1, t2, and the untagged one
        Assert.Equal(6, run.GetProperty("blobs_deleted").GetInt64());     // t1's config, t2's config and layer, the untagged image's two, the upload
        foreach (var figure in new[] { "tags_deleted", "manifests_deleted", "blobs_deleted", "bytes_freed" })
        {
            Assert.True(run.GetProperty(figure).GetInt64() == dry.GetProperty(figure).GetInt64(),
                $"{figure}: the dry run said {dry.GetProperty(figure).GetInt64()}, the real run did {run.GetProperty(figure).GetInt64()}");
        }
        Assert.Equal(sharedLayer, Digest.Compute(await _boss.GetByteArrayAsync($"v2/boss/app/blobs/{sharedLayer}")));
        Assert.Null(await _accounts.Server.Services.GetRequiredService<IBlobStore>().StatAsync(untagged.Layer, CancellationToken.None));
    }

    [Fact]
    public async Task Immutable_tags_outlive_the_rules_and_no_rules_keep_everything()
    {
        foreach (var tag in new[] { "v1", "v2", "latest" }) await Registry.PushImageAsync("boss/app", tag, salt: tag);
        using (var immutable = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/immutable-tags", new { patterns = new[] { @"v\d+" } }))
        {
            Assert.Equal(HttpStatusCode.OK, immutable.StatusCode);
        }
        using (var set = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_last = 0 })) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(["boss/app:latest"], Tags(await CollectAsync(dryRun: false)));

        // Removing the rules (none given) keeps every tag from then on.
        await Registry.PushImageAsync("boss/app", "next", salt: "next");
        using (var cleared = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { })) Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        Assert.Empty(Tags(await CollectAsync(dryRun: false)));
        using var next = await _boss.GetAsync("v2/boss/app/manifests/next");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Rules_are_set_only_by_those_who_may_delete_and_must_be_usable()
    {
        await Registry.PushImageAsync("boss/app", "v1");
        using var alice = _accounts.Basic("alice");
        using (var refused = await alice.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_last = 1 }))
        {
            Assert.True(refused.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound, $"alice got {(int)refused.StatusCode}");
        }
        using (var bad = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_tags_matching = "v(" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("keep_tags_matching", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var negative = await _boss.PutAsJsonAsync("api/v1/repositories/boss/app/retention", new { keep_last = -1 })) Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        using (var notJson = await _boss.PutAsync("api/v1/repositories/boss/app/retention", new StringContent("{\"keep_last\": \"two\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        }
        using (var missing = await _boss.PutAsJsonAsync("api/v1/repositories/boss/none/retention", new { keep_last = 1 })) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var unchanged = await ReadJsonAsync(await _boss.GetAsync("api/v1/repositories/boss/app/retention"));
        Assert.Equal(JsonValueKind.Null, unchanged.RootElement.GetProperty("keep_last").ValueKind);
    }
}

/// <summary>The same on PostgreSQL and the real Ceph RGW (S3).</summary>
public sealed class RetentionTestsOnPostgreSqlAndS3 : RetentionTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;

    protected override Task<string[]> ServerArgsAsync(string[] args) => OnS3.ArgsAsync(args);
}
