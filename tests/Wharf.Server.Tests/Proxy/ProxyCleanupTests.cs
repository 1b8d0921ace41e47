using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Gc;
using Wharf.Core.Registry;
using Wharf.Core.Storage;
using Wharf.Server.Tests.RealClients;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary>
/// Cached content is ordinary content to garbage collection and retention: an image whose tag the upstream moved
/// (untagged in the cache), images deleted from the cache, and cached tags a retention rule does not keep are
/// collected, manifest and blobs; the next pull of each fetches it from the upstream again.
/// </summary>
[Trait("Category", "RealClients")]
public class ProxyCleanupTests
{
    protected virtual WharfTestProviders Providers => WharfTestProviders.Default;

    protected virtual Task<string[]> ServerArgsAsync(string[] args) => Task.FromResult(args);

    [Fact]
    public async Task Garbage_collection_removes_cached_images_nothing_keeps_and_the_next_pull_fetches_them_again_from_the_upstream()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pg");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var old = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024, Seed = 51 });
        var current = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024, Seed = 52 });
        await ProxySetup.SeedAsync(upstream, old, "library/app", "1", dir, ct);
        await using var wharf = await WharfTestServer.StartOnAsync(Providers, AuthMode.Open, await ServerArgsAsync(ProxySetup.Namespace("hub", upstream.BaseUrl,
            tagTtl: "00:00:00", "--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false")));
        using var http = wharf.CreateClient();
        var blobs = wharf.Services.GetRequiredService<IBlobStore>();
        var store = wharf.Services.GetRequiredService<IRegistryStore>();

        await PullAsync(http, old, ct);
        // The upstream moves the tag: the next pull re-checks it, caches the new image, and leaves the old one untagged.
        await ProxySetup.SeedAsync(upstream, current, "library/app", "1", dir, ct);
        await PullAsync(http, current, ct);
        await AssertStoredAsync(blobs, old, true, ct);

        var run = await CollectAsync(http, ct);
        Assert.Equal(1, run.GetProperty("manifests_deleted").GetInt64());
        Assert.Equal(1 + old.Layers.Count, run.GetProperty("blobs_deleted").GetInt64());
        await AssertStoredAsync(blobs, old, false, ct);
        await AssertStoredAsync(blobs, current, true, ct);
        Assert.Null(await store.GetManifestAsync("hub/library/app", Digest.Parse(old.ManifestDigest), ct));
        await PullAsync(http, current, ct);
        // A client that still names the old image by digest gets it again, fetched anew from the upstream.
        await PullAsync(http, old, ct, old.ManifestDigest);
        await AssertStoredAsync(blobs, old, true, ct);
        await ProxySetup.FlushAccessLogAsync(upstream, ct);
        Assert.All(Blobs(old), blob => Assert.Equal(2, ProxySetup.BlobGets(upstream, blob)));

        // The cached image deleted: collected too; the next pull fetches manifest and blobs from the upstream again.
        Assert.All(Blobs(current), blob => Assert.Equal(1, ProxySetup.BlobGets(upstream, blob)));
        using (var delete = await http.DeleteAsync($"v2/hub/library/app/manifests/{current.ManifestDigest}", ct)) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        using (var deleteOld = await http.DeleteAsync($"v2/hub/library/app/manifests/{old.ManifestDigest}", ct)) Assert.Equal(HttpStatusCode.Accepted, deleteOld.StatusCode);
        run = await CollectAsync(http, ct);
        Assert.Equal(2 + current.Layers.Count + old.Layers.Count, run.GetProperty("blobs_deleted").GetInt64());
        await AssertStoredAsync(blobs, current, false, ct);
        await AssertStoredAsync(blobs, old, false, ct);
        Assert.Null(await store.ResolveTagAsync("hub/library/app", "1", ct));

        await PullAsync(http, current, ct);
        await AssertStoredAsync(blobs, current, true, ct);
        await ProxySetup.FlushAccessLogAsync(upstream, ct);
        Assert.All(Blobs(current), blob => Assert.Equal(2, ProxySetup.BlobGets(upstream, blob)));
    }

    [Fact]
    public async Task A_retention_rule_removes_the_cached_tags_it_does_not_keep_and_the_next_pull_fetches_them_again()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pt");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var dropped = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 64 * 1024, Seed = 54 });
        var kept = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 64 * 1024, Seed = 55 });
        await ProxySetup.SeedAsync(upstream, dropped, "library/app", "1", dir, ct);
        await ProxySetup.SeedAsync(upstream, kept, "library/app", "2", dir, ct);
        await using var wharf = await WharfTestServer.StartOnAsync(Providers, AuthMode.Open, await ServerArgsAsync(ProxySetup.Namespace("hub", upstream.BaseUrl,
            more: ["--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false"])));
        using var http = wharf.CreateClient();
        var blobs = wharf.Services.GetRequiredService<IBlobStore>();
        await PullAsync(http, dropped, ct, "1");
        await PullAsync(http, kept, ct, "2");

        using (var rule = await http.PutAsJsonAsync("api/v1/repositories/hub/library/app/retention", new { keep_tags_matching = "2" }, ct))
        {
            Assert.True(rule.IsSuccessStatusCode, $"PUT retention answered {(int)rule.StatusCode}: {await rule.Content.ReadAsStringAsync(ct)}");
        }
        using (var response = await http.PostAsJsonAsync("api/v1/gc", new { dry_run = false }, ct))
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /api/v1/gc answered {(int)response.StatusCode}: {body}");
            var report = JsonDocument.Parse(body).RootElement;
            Assert.Equal(["hub/library/app:1"], report.GetProperty("tags").EnumerateArray()
                .Select(t => $"{t.GetProperty("repository").GetString()}:{t.GetProperty("tag").GetString()}"));
        }
        await AssertStoredAsync(blobs, dropped, false, ct);
        await AssertStoredAsync(blobs, kept, true, ct);
        var store = wharf.Services.GetRequiredService<IRegistryStore>();
        Assert.Null(await store.ResolveTagAsync("hub/library/app", "1", ct));

        await PullAsync(http, dropped, ct, "1");
        await PullAsync(http, kept, ct, "2");
        await ProxySetup.FlushAccessLogAsync(upstream, ct);
        Assert.All(Blobs(dropped), blob => Assert.Equal(2, ProxySetup.BlobGets(upstream, blob)));
        Assert.All(Blobs(kept), blob => Assert.Equal(1, ProxySetup.BlobGets(upstream, blob)));
    }

    /// <summary>
    /// A pull that meets the collector deleting a cached layer (claimed, then its object removed) is told to ask again,
    /// never served a blob the cache does not keep nor told the blob is unknown, and the next pull fetches it anew.
    /// </summary>
    [Fact]
    public async Task A_pull_that_meets_the_collector_deleting_a_cached_blob_is_told_to_retry_and_the_retry_fetches_it_again()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pr");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 512 * 1024, Seed = 53 });
        await ProxySetup.SeedAsync(upstream, image, "library/app", "1", dir, ct);
        await using var wharf = await WharfTestServer.StartOnAsync(Providers, AuthMode.Open, await ServerArgsAsync(ProxySetup.Namespace("hub", upstream.BaseUrl,
            more: ["--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false"])));
        using var http = wharf.CreateClient();
        var blobs = wharf.Services.GetRequiredService<IBlobStore>();
        var gc = wharf.Services.GetRequiredService<IGcStore>();
        var layer = Digest.Parse(image.Layers[0].Digest);
        await PullAsync(http, image, ct);
        using (var delete = await http.DeleteAsync($"v2/hub/library/app/manifests/{image.ManifestDigest}", ct)) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        // The collector claims the layer (its links go); the object is still there. A pull now must not link it.
        Assert.Single(await gc.TryMarkDeletingAsync([layer], DateTimeOffset.UtcNow.AddMinutes(1), ct));
        using (var manifest = await http.GetAsync("v2/hub/library/app/manifests/1", ct)) Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        using (var claimed = await http.GetAsync($"v2/hub/library/app/blobs/{layer}", ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, claimed.StatusCode);
            Assert.Contains("UNAVAILABLE", await claimed.Content.ReadAsStringAsync(ct));
            Assert.NotNull(claimed.Headers.RetryAfter);
        }

        // The collector removed the object, not yet the row: the blob is fetched again, but cannot be kept; the client
        // never gets it whole (the connection breaks before its last byte).
        Assert.True(await blobs.DeleteAsync(layer, ct));
        try
        {
            using var refetched = await http.GetAsync($"v2/hub/library/app/blobs/{layer}", HttpCompletionOption.ResponseContentRead, ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refetched.StatusCode); // told to retry before the body started
        }
        catch (HttpRequestException)
        {
            // The body had started: the connection broke before its last byte, which is what a client retries too.
        }
        Assert.Null(await wharf.Services.GetRequiredService<IRegistryStore>().GetLinkedBlobSizeAsync("hub/library/app", layer, ct));

        // The collector done: the next pull gets the whole layer, and the cache keeps it.
        await gc.ForgetBlobsAsync([layer], ct);
        Assert.Equal(image.Layers[0].Digest, BlobDigest.Of(await http.GetByteArrayAsync($"v2/hub/library/app/blobs/{layer}", ct)));
        Assert.NotNull(await wharf.Services.GetRequiredService<IRegistryStore>().GetLinkedBlobSizeAsync("hub/library/app", layer, ct));
        await PullAsync(http, image, ct);
    }

    private static string[] Blobs(TestImage image) => ProxySetup.BlobsOf(image);

    private static async Task<JsonElement> CollectAsync(HttpClient http, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync("api/v1/gc", new { dry_run = false }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /api/v1/gc answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("run").Clone();
    }

    private static async Task AssertStoredAsync(IBlobStore blobs, TestImage image, bool stored, CancellationToken ct)
    {
        foreach (var blob in Blobs(image))
        {
            var stat = await blobs.StatAsync(Digest.Parse(blob), ct);
            Assert.True(stored == stat is not null, $"{blob} is {(stat is null ? "not " : "")}in the blob store");
        }
    }

    private static Task PullAsync(HttpClient http, TestImage image, CancellationToken ct, string reference = "1") =>
        ProxySetup.PullOverHttpAsync(http, "hub/library/app", image, reference, ct);
}

/// <summary>The same with metadata on PostgreSQL and blobs on the real Ceph RGW (S3).</summary>
public sealed class ProxyCleanupTestsOnPostgreSqlAndS3 : ProxyCleanupTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;

    protected override Task<string[]> ServerArgsAsync(string[] args) => Registry.OnS3.ArgsAsync(args);
}
