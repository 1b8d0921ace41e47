using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Digests;
using Wharf.Core.Gc;
using Wharf.Core.Storage;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Gc;

/// <summary>
/// The collector against a real server (<c>POST /api/v1/gc</c>, <c>GET /api/v1/gc/runs</c>) with a grace period of 0:
/// what nothing needs goes, every tagged image still pulls whole, a dry run changes nothing, and the racing paths (an upload
/// or a mount that meets a blob being deleted) never link a blob whose object is gone.
/// </summary>
public class GarbageCollectionTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false"];

    private IBlobStore Blobs => Server.Services.GetRequiredService<IBlobStore>();

    private async Task<JsonElement> CollectAsync(bool dryRun = false)
    {
        using var response = await Http.PostAsJsonAsync("api/v1/gc", new { dry_run = dryRun });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /api/v1/gc answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Pulls the manifest by tag and every blob it names, verifying each digest.</summary>
    private async Task AssertPullsWholeAsync(string repository, string tag, PushedImage image)
    {
        using var manifest = await Http.GetAsync($"v2/{repository}/manifests/{tag}");
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
        Assert.Equal(image.Digest, Digest.Compute(await manifest.Content.ReadAsByteArrayAsync()));
        foreach (var blob in new[] { image.Config, image.Layer })
        {
            var bytes = await Http.GetByteArrayAsync($"v2/{repository}/blobs/{blob}");
            Assert.Equal(blob, Digest.Compute(bytes));
        }
    }

    [Fact]
    public async Task A_collection_deletes_what_nothing_needs_and_every_tagged_image_still_pulls_whole()
    {
        var kept = await Registry.PushImageAsync("team/app", "v1", salt: "kept");
        var shared = await Registry.PushImageAsync("team/other", "v1", salt: "kept"); // the same blobs in another repository
        var dropped = await Registry.PushImageAsync("team/app", "old", salt: "dropped");
        var stray = await Registry.PushBlobAsync("team/app", "a blob no manifest ever named");
        using (var untag = await Http.DeleteAsync("v2/team/app/manifests/old")) Assert.Equal(HttpStatusCode.Accepted, untag.StatusCode);
        var dryBytes = "a blob no manifest ever named".Length + ("layer of dropped".Length) + Bytes("""{"architecture":"amd64","os":"linux","salt":"dropped"}""").Length;

        var dry = await CollectAsync(dryRun: true);
        Assert.True(dry.GetProperty("run").GetProperty("dry_run").GetBoolean());
        Assert.Equal(1, dry.GetProperty("run").GetProperty("manifests_deleted").GetInt64());
        Assert.Equal(3, dry.GetProperty("run").GetProperty("blobs_deleted").GetInt64());
        Assert.Equal(dryBytes, dry.GetProperty("run").GetProperty("bytes_freed").GetInt64());
        Assert.Equal($"team/app@{dropped.Digest}", $"{dry.GetProperty("manifests")[0].GetProperty("repository").GetString()}@{dry.GetProperty("manifests")[0].GetProperty("digest").GetString()}");
        // The dry run changed nothing.
        using (var byDigest = await Http.GetAsync($"v2/team/app/manifests/{dropped.Digest}")) Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
        Assert.NotNull(await Blobs.StatAsync(dropped.Layer, CancellationToken.None));
        Assert.NotNull(await Blobs.StatAsync(stray, CancellationToken.None));

        var run = (await CollectAsync()).GetProperty("run");
        Assert.False(run.GetProperty("dry_run").GetBoolean());
        Assert.Equal(1, run.GetProperty("manifests_deleted").GetInt64());
        Assert.Equal(3, run.GetProperty("blobs_deleted").GetInt64());
        Assert.Equal(dryBytes, run.GetProperty("bytes_freed").GetInt64());

        using (var gone = await Http.GetAsync($"v2/team/app/manifests/{dropped.Digest}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using (var goneBlob = await Http.GetAsync($"v2/team/app/blobs/{dropped.Layer}")) Assert.Equal(HttpStatusCode.NotFound, goneBlob.StatusCode);
        Assert.Null(await Blobs.StatAsync(dropped.Layer, CancellationToken.None));
        Assert.Null(await Blobs.StatAsync(dropped.Config, CancellationToken.None));
        Assert.Null(await Blobs.StatAsync(stray, CancellationToken.None));
        await AssertPullsWholeAsync("team/app", "v1", kept);
        await AssertPullsWholeAsync("team/other", "v1", shared);

        // Nothing left to do: the next run deletes nothing.
        var again = (await CollectAsync()).GetProperty("run");
        Assert.Equal(0, again.GetProperty("blobs_deleted").GetInt64());
        Assert.Equal(0, again.GetProperty("manifests_deleted").GetInt64());

        using var runs = await ReadJsonAsync(await Http.GetAsync("api/v1/gc/runs?limit=2"));
        var listed = runs.RootElement.GetProperty("runs");
        Assert.Equal(2, listed.GetArrayLength());
        Assert.Equal(again.GetProperty("id").GetInt64(), listed[0].GetProperty("id").GetInt64());
        Assert.Equal("api", listed[0].GetProperty("trigger").GetString());
        Assert.True(listed[1].GetProperty("duration_ms").GetInt64() >= 0);
        Assert.NotNull(runs.RootElement.GetProperty("next_cursor").GetString());

        // /metrics counts the three runs, the dry one apart, and only the real run's bytes as freed.
        var scrape = await PrometheusText.ScrapeAsync(Http);
        Assert.Equal(2, scrape.Sum("wharf_gc_runs_total", ("dry_run", "false")));
        Assert.Equal(1, scrape.Sum("wharf_gc_runs_total", ("dry_run", "true")));
        Assert.Equal(dryBytes, scrape.Sum("wharf_gc_freed_bytes_total"));
    }

    [Fact]
    public async Task An_object_without_a_row_is_collected()
    {
        var uploads = Server.Services.GetRequiredService<IUploadStore>();
        var bytes = Bytes("uploaded, then the server died before linking it");
        var digest = Digest.Compute(bytes);
        Assert.True((await uploads.WriteAsync(digest, new MemoryStream(bytes), bytes.Length, CancellationToken.None)).IsOk);

        var run = (await CollectAsync()).GetProperty("run");
        Assert.Equal(1, run.GetProperty("blobs_deleted").GetInt64());
        Assert.Equal(bytes.Length, run.GetProperty("bytes_freed").GetInt64());
        Assert.Null(await Blobs.StatAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task An_upload_that_meets_a_blob_being_deleted_is_refused_as_retryable_and_succeeds_when_repeated()
    {
        var content = Bytes("layer the collector is deleting");
        var digest = await Registry.PushBlobAsync("team/old", content);
        var gc = Server.Services.GetRequiredService<IGcStore>();
        Assert.Single(await gc.TryMarkDeletingAsync([digest], DateTimeOffset.UtcNow.AddSeconds(1), CancellationToken.None));

        // The object is still there, so the new upload's content is dropped as "already stored": the link must refuse.
        using (var post = await Http.PostAsync("v2/team/new/blobs/uploads/", null))
        {
            using var put = await Http.PutAsync(WithQuery(post.Headers.Location!, "digest=" + digest), Octets(content));
            await AssertErrorAsync(put, HttpStatusCode.ServiceUnavailable, "UNAVAILABLE");
            Assert.NotNull(put.Headers.RetryAfter);
        }
        using (var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/new/blobs/{digest}"))) Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        // A mount of it is not made either: the client is sent to an ordinary upload.
        using (var mount = await Http.PostAsync($"v2/team/new/blobs/uploads/?mount={digest}&from=team/old", null)) Assert.Equal(HttpStatusCode.Accepted, mount.StatusCode);

        // The collector finishes (object, then row); the client's retry stores the blob anew.
        Assert.True(await Blobs.DeleteAsync(digest, CancellationToken.None));
        await gc.ForgetBlobsAsync([digest], CancellationToken.None);
        Assert.Equal(digest, await Registry.PushBlobAsync("team/new", content));
        Assert.Equal(content, await Http.GetByteArrayAsync($"v2/team/new/blobs/{digest}"));
    }

    [Fact]
    public async Task A_blob_whose_object_went_after_the_upload_moved_it_is_not_linked()
    {
        // The collector deleted object and row between the upload's move and its link: no row, no object.
        var content = Bytes("moved into place, then collected");
        var digest = Digest.Compute(content);
        var uploads = Server.Services.GetRequiredService<IUploadStore>();
        var session = await uploads.StartAsync("team/app", Digest.Sha256, CancellationToken.None);
        Assert.True((await uploads.AppendAsync(session.Id, "team/app", new MemoryStream(content), 0, content.Length, CancellationToken.None)).IsOk);
        var store = Server.Services.GetRequiredService<Wharf.Core.Registry.IRegistryStore>();
        Assert.True((await uploads.CommitAsync(session.Id, "team/app", digest, CancellationToken.None)).IsOk);
        Assert.True(await Blobs.DeleteAsync(digest, CancellationToken.None));

        Assert.Equal(Wharf.Core.Registry.LinkBlobStatus.Gone, await store.LinkBlobAsync("team/app", digest, content.Length,
            async ct => await Blobs.StatAsync(digest, ct) is not null, CancellationToken.None));
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task The_next_page_of_blobs_is_claimed_while_the_page_before_is_being_deleted()
    {
        var unreferenced = new List<Digest>();
        for (var i = 0; i < GarbageCollector.ClaimPage + 10; i++) unreferenced.Add(await Registry.PushBlobAsync("team/app", $"no manifest names blob {i}"));
        var secondClaim = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (gcStore, calls) = CallCounter<IGcStore>.Wrap(Server.Services.GetRequiredService<IGcStore>());
        calls.BeforeCall = (method, count) =>
        {
            if (method == nameof(IGcStore.TryMarkDeletingAsync) && count == 2) secondClaim.TrySetResult();
        };
        // The first page's delete goes on only once the second page is claimed: one step after the other, it never would.
        var blobs = new HeldDeletesBlobStore(Blobs, async call => { if (call == 1) await secondClaim.Task.WaitAsync(TimeSpan.FromSeconds(30)); });
        var services = Server.Services;
        var collector = new GarbageCollector(gcStore, blobs, services.GetRequiredService<IUploadStore>(), services.GetRequiredService<Wharf.Core.Events.RegistryEvents>(),
            services.GetRequiredService<Wharf.Core.Registry.ManifestCache>(), services.GetRequiredService<GarbageCollector>().Options, services.GetRequiredService<Wharf.Core.Registry.RegistryOptions>());

        var report = await collector.RunAsync(dryRun: false, "test", CancellationToken.None);

        Assert.NotNull(report);
        Assert.Null(report.Run.Error);
        Assert.Equal(unreferenced.Count, report.Run.BlobsDeleted);
        Assert.Equal(1, blobs.MostDeletesAtOnce);
        foreach (var digest in unreferenced)
        {
            Assert.Null(await Blobs.StatAsync(digest, CancellationToken.None));
            using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{digest}"));
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }
    }

    [Fact]
    public async Task A_collection_while_another_holds_the_lock_is_refused_with_a_conflict()
    {
        var gc = Server.Services.GetRequiredService<IGcStore>();
        await using (var held = await gc.TryLockAsync(CancellationToken.None))
        {
            Assert.NotNull(held);
            using var busy = await Http.PostAsJsonAsync("api/v1/gc", new { dry_run = false });
            Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);
            Assert.Equal("application/problem+json", busy.Content.Headers.ContentType?.MediaType);
        }
        await CollectAsync();
    }

    [Fact]
    public async Task A_bad_body_is_a_problem_not_a_collection()
    {
        using var bad = await Http.PostAsync("api/v1/gc", new StringContent("{\"dry_run\": \"yes\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var runs = await ReadJsonAsync(await Http.GetAsync("api/v1/gc/runs"));
        Assert.Equal(0, runs.RootElement.GetProperty("runs").GetArrayLength());
        using var badLimit = await Http.GetAsync("api/v1/gc/runs?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }
}

/// <summary>The same on PostgreSQL and the real Ceph RGW (S3): row locks instead of a writer gate, S3 <c>LastModified</c>.</summary>
public sealed class GarbageCollectionTestsOnPostgreSqlAndS3 : GarbageCollectionTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;

    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}

/// <summary>A blob store whose batch deletes first await a test's hook (given the call's number, from 1), counting how many run at once.</summary>
internal sealed class HeldDeletesBlobStore(IBlobStore inner, Func<int, Task> beforeDelete) : IBlobStore
{
    private readonly object _gate = new();
    private int _calls;
    private int _running;

    public int MostDeletesAtOnce { get; private set; }

    public async ValueTask<IReadOnlySet<Digest>> DeleteManyAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        int call;
        lock (_gate)
        {
            call = ++_calls;
            MostDeletesAtOnce = Math.Max(MostDeletesAtOnce, ++_running);
        }
        try
        {
            await beforeDelete(call);
            return await inner.DeleteManyAsync(digests, cancellationToken);
        }
        finally
        {
            lock (_gate) _running--;
        }
    }

    public ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken) => inner.StatAsync(digest, cancellationToken);

    public ValueTask<Stream?> OpenReadAsync(Digest digest, long offset, long? length, CancellationToken cancellationToken) => inner.OpenReadAsync(digest, offset, length, cancellationToken);

    public ValueTask<Uri?> GetDownloadUrlAsync(Digest digest, CancellationToken cancellationToken) => inner.GetDownloadUrlAsync(digest, cancellationToken);

    public ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken) => inner.DeleteAsync(digest, cancellationToken);

    public IAsyncEnumerable<BlobInfo> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);
}
