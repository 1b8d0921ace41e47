using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Retention;
using Wharf.Core.Storage;
using Wharf.Core.Telemetry;

namespace Wharf.Core.Gc;

/// <summary>What a collection did, or (a dry run) would do.</summary>
/// <param name="Run">The recorded run with its counts.</param>
/// <param name="Manifests">The manifests deleted (or that a dry run would delete), at most <see cref="GarbageCollector.MaxListed"/>.</param>
public sealed record GcReport(GcRun Run, IReadOnlyList<GcManifest> Manifests)
{
    /// <summary>The tags retention deleted (or that a dry run would delete), at most <see cref="GarbageCollector.MaxListed"/>.</summary>
    public IReadOnlyList<ExpiredTag> Tags { get; init; } = [];
}

/// <summary>
/// Online garbage collection: deletes what nothing needs while pushes and pulls go on. The order makes every step safe to
/// interrupt (kill -9 at any point leaves the stores consistent and the next run finishes the work):
/// <list type="number">
/// <item>blobs left <c>deleting</c> by a collector that died: the object goes, then the row;</item>
/// <item>retention: in each repository with rules (<see cref="IRetentionStore"/>), the tags no rule keeps, each re-checked
/// and deleted in its own transaction with a <see cref="TagDeleted"/> change through the event seam;</item>
/// <item>manifests that nothing keeps (<see cref="IGcStore.ListUnkeptManifestsAsync"/>), each re-checked and deleted in its
/// own transaction with a <see cref="ManifestDeleted"/> change through the event seam;</item>
/// <item>blobs that no manifest references, last linked before the grace period: claimed by compare-and-swap
/// (<c>live</c> → <c>deleting</c>, links removed), then the objects, then the rows, a page (<see cref="ClaimPage"/>) per
/// transaction and per batch delete of the blob store, each page's objects deleted while the next page is claimed;</item>
/// <item>objects of the blob store without a row, older than the grace period: claimed with <c>deleting</c> rows first, a page at a time;</item>
/// <item>upload sessions idle for longer than <c>Registry:UploadIdleTimeout</c> (S3 multipart uploads included).</item>
/// </list>
/// One collector runs at a time across every node (<see cref="IGcStore.TryLockAsync"/>). Every finished run, dry or not,
/// is counted on <c>/metrics</c> (<see cref="WharfMetrics.GcRunFinished"/>) with the bytes it freed.
/// </summary>
public sealed class GarbageCollector(
    IGcStore store, IBlobStore blobs, IUploadStore uploads, RegistryEvents events, ManifestCache cache, GcOptions options, RegistryOptions registry,
    WharfMetrics? metrics = null, IRetentionStore? retention = null)
{
    /// <summary>How many manifests a report lists.</summary>
    public const int MaxListed = 1_000;

    /// <summary>
    /// How many blobs one claim (and one forget) handles in a transaction: enough that a commit costs little per blob,
    /// few enough that a push arriving while one runs waits about a millisecond for it (measured at 20,000 and 30,000
    /// blobs beside pushes: a page of 250 held SQLite's writer 7–10 ms at the median and up to 31–45 ms, one of 50 about
    /// 1 ms, and up to 18 ms with one unlink thread).
    /// </summary>
    public const int ClaimPage = 50;

    /// <summary>How many manifests one transaction deletes: each is re-checked and journalled with a few statements.</summary>
    public const int ManifestPage = 50;

    public GcOptions Options => options;

    /// <summary>Runs one collection; null when another collector holds the lock.</summary>
    public async Task<GcReport?> RunAsync(bool dryRun, string trigger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(trigger);
        await using var gcLock = await store.TryLockAsync(cancellationToken);
        if (gcLock is null) return null;
        var started = events.Now;
        var id = await store.StartRunAsync(started, dryRun, trigger, cancellationToken);
        var tally = new Tally();
        string? error = null;
        try
        {
            if (dryRun) await DryRunAsync(started - options.GracePeriod, tally, cancellationToken);
            else await CollectAsync(started - options.GracePeriod, tally, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            error = e.Message;
            throw;
        }
        finally
        {
            var run = new GcRun(id, started, events.Now, dryRun, trigger, tally.Blobs, tally.Bytes, tally.ManifestCount, tally.Uploads, error ?? (cancellationToken.IsCancellationRequested ? "cancelled" : null))
            {
                TagsDeleted = tally.TagCount,
            };
            tally.Run = run;
            await store.FinishRunAsync(run, CancellationToken.None);
            metrics?.GcRunFinished(dryRun, dryRun ? 0 : run.BytesFreed);
        }
        return new GcReport(tally.Run!, tally.Manifests) { Tags = tally.Tags };
    }

    private async Task CollectAsync(DateTimeOffset cutoff, Tally tally, CancellationToken cancellationToken)
    {
        await FinishDeletingAsync(tally, cancellationToken);
        await ApplyRetentionAsync(dryRun: false, tally, cancellationToken);
        await DeleteUnkeptManifestsAsync(cutoff, tally, cancellationToken);
        await DeleteUnreferencedBlobsAsync(cutoff, tally, cancellationToken);
        await DeleteOrphanObjectsAsync(cutoff, tally, cancellationToken);
        tally.Uploads += await uploads.ExpireIdleAsync(registry.UploadIdleTimeout, cancellationToken);
    }

    /// <summary>
    /// What <see cref="CollectAsync"/> would free, step by step as it would: the blobs left half-deleted whose objects are
    /// still there, the tags retention would delete, then the manifests and blobs nothing would keep once those tags are
    /// gone, and the objects without a row. Changes nothing.
    /// </summary>
    private async Task DryRunAsync(DateTimeOffset cutoff, Tally tally, CancellationToken cancellationToken)
    {
        string? after = null;
        while (true)
        {
            var page = await store.ListDeletingBlobsAsync(after, options.BatchSize, cancellationToken);
            foreach (var blob in page)
            {
                if (await blobs.StatAsync(blob.Digest, cancellationToken) is not null) tally.AddBlob(blob.Size);
            }
            if (page.Count < options.BatchSize) break;
            after = page[^1].Digest.ToString();
        }
        await ApplyRetentionAsync(dryRun: true, tally, cancellationToken);
        var expiring = tally.Expiring;
        foreach (var manifest in await store.ListUnkeptManifestsAsync(cutoff, options.DeleteUntagged, expiring, int.MaxValue, cancellationToken))
        {
            tally.AddManifest(manifest);
        }
        after = null;
        while (true)
        {
            var page = await store.ListUnreferencedBlobsAsync(cutoff, ignoringUnkeptManifests: true, options.DeleteUntagged, expiring, after, options.BatchSize, cancellationToken);
            foreach (var blob in page) tally.AddBlob(blob.Size);
            if (page.Count < options.BatchSize) break;
            after = page[^1].Digest.ToString();
        }
        await foreach (var orphan in ListOrphansAsync(cutoff, cancellationToken)) tally.AddBlob(orphan.Size);
    }

    /// <summary>Blobs a run claimed but did not finish (it died, or lost its storage): object, then row.</summary>
    private async Task FinishDeletingAsync(Tally tally, CancellationToken cancellationToken)
    {
        string? after = null;
        while (true)
        {
            var page = await store.ListDeletingBlobsAsync(after, options.BatchSize, cancellationToken);
            foreach (var claimed in page.Chunk(ClaimPage)) await DeleteClaimedAsync(claimed, tally, cancellationToken);
            if (page.Count < options.BatchSize) return;
            after = page[^1].Digest.ToString();
        }
    }

    /// <summary>
    /// Each repository's retention rules over its tags: the tags no rule keeps (immutable ones never) are deleted, or
    /// only listed in a dry run. Their manifests and blobs follow in the later steps of the same run, when nothing else
    /// keeps them.
    /// </summary>
    private async Task ApplyRetentionAsync(bool dryRun, Tally tally, CancellationToken cancellationToken)
    {
        if (retention is null) return;
        string? after = null;
        while (true)
        {
            var page = await retention.ListAsync(after, options.BatchSize, cancellationToken);
            foreach (var repository in page)
            {
                var tags = await retention.ListTagsAsync(repository.Repository, cancellationToken);
                foreach (var tag in repository.Policy.Expired(tags, events.Now, repository.ImmutableTags))
                {
                    if (dryRun)
                    {
                        var expired = new ExpiredTag(repository.Repository, tag.Tag, tag.Digest);
                        tally.AddTag(expired);
                        tally.Expiring.Add(expired);
                        continue;
                    }
                    var change = new TagDeleted(repository.Repository, tag.Tag, ChangeActor.Server, events.Now);
                    if (!await retention.TryDeleteTagAsync(repository.Repository, tag, change, cancellationToken)) continue;
                    cache.InvalidateTag(repository.Repository, tag.Tag);
                    await events.PublishAsync(change);
                    tally.AddTag(new ExpiredTag(repository.Repository, tag.Tag, tag.Digest));
                }
            }
            if (page.Count < options.BatchSize) return;
            after = page[^1].Repository;
        }
    }

    private async Task DeleteUnkeptManifestsAsync(DateTimeOffset cutoff, Tally tally, CancellationToken cancellationToken)
    {
        while (true)
        {
            var deleted = 0;
            var candidates = await store.ListUnkeptManifestsAsync(cutoff, options.DeleteUntagged, null, options.BatchSize, cancellationToken);
            foreach (var page in candidates.Chunk(ManifestPage))
            {
                var changes = new Dictionary<GcManifest, ManifestDeleted>();
                var gone = await store.TryDeleteUnkeptManifestsAsync(page, cutoff,
                    manifest => changes[manifest] = new ManifestDeleted(manifest.Repository, manifest.Digest, ChangeActor.Server, events.Now), cancellationToken);
                foreach (var manifest in gone)
                {
                    cache.InvalidateManifest(manifest.Repository, manifest.Digest);
                    await events.PublishAsync(changes[manifest]);
                    tally.AddManifest(manifest);
                    deleted++;
                }
                await Task.Yield(); // as between pages of blobs: what waits for the writer goes first
            }
            // Another pass finds the children of the indexes just deleted, or the rest of a full batch; none deleted
            // means what is left is kept (or changed under us).
            if (deleted == 0) return;
        }
    }

    /// <summary>
    /// Claims the unreferenced blobs a page at a time and deletes each claimed page while the next one is claimed: the
    /// unlinks or S3 deletes (the blob store's time) overlap the claims (the database's) instead of adding up. One page
    /// at most is being deleted at a time, and every blob still goes object first, then row.
    /// </summary>
    private async Task DeleteUnreferencedBlobsAsync(DateTimeOffset cutoff, Tally tally, CancellationToken cancellationToken)
    {
        var deleting = Task.CompletedTask;
        try
        {
            string? after = null;
            while (true)
            {
                var page = await store.ListUnreferencedBlobsAsync(cutoff, ignoringUnkeptManifests: false, options.DeleteUntagged, null, after, options.BatchSize, cancellationToken);
                foreach (var candidates in page.Chunk(ClaimPage))
                {
                    var claimed = await store.TryMarkDeletingAsync([.. candidates.Select(b => b.Digest)], cutoff, cancellationToken);
                    await deleting;
                    deleting = DeleteClaimedAsync(claimed, tally, cancellationToken);
                }
                if (page.Count < options.BatchSize) break;
                after = page[^1].Digest.ToString();
            }
        }
        finally
        {
            // Also when a claim failed: the page being deleted finishes (or fails) before the run ends; what it leaves
            // `deleting` the next run finishes.
            await deleting;
        }
    }

    private async Task DeleteOrphanObjectsAsync(DateTimeOffset cutoff, Tally tally, CancellationToken cancellationToken)
    {
        var orphans = new List<GcBlob>(ClaimPage);
        await foreach (var orphan in ListOrphansAsync(cutoff, cancellationToken))
        {
            orphans.Add(new GcBlob(orphan.Digest, orphan.Size));
            if (orphans.Count < ClaimPage) continue;
            await DeleteClaimedAsync(await store.TryClaimOrphansAsync(orphans, cancellationToken), tally, cancellationToken);
            orphans.Clear();
        }
        await DeleteClaimedAsync(await store.TryClaimOrphansAsync(orphans, cancellationToken), tally, cancellationToken);
    }

    /// <summary>Objects older than the cutoff that no blob row knows, in batches of the store's listing.</summary>
    private async IAsyncEnumerable<BlobInfo> ListOrphansAsync(DateTimeOffset cutoff, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batch = new List<BlobInfo>(options.BatchSize);
        await foreach (var info in blobs.ListAsync(cancellationToken))
        {
            if (info.LastModified > cutoff) continue;
            batch.Add(info);
            if (batch.Count < options.BatchSize) continue;
            foreach (var orphan in await UnknownAsync(batch, cancellationToken)) yield return orphan;
            batch.Clear();
        }
        foreach (var orphan in await UnknownAsync(batch, cancellationToken)) yield return orphan;
    }

    private async Task<List<BlobInfo>> UnknownAsync(List<BlobInfo> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return [];
        var known = await store.FindKnownBlobsAsync([.. batch.Select(b => b.Digest)], cancellationToken);
        return [.. batch.Where(b => !known.Contains(b.Digest))];
    }

    /// <summary>
    /// A page of claimed (<c>deleting</c>) blobs: their objects go, then their rows, each step at once for the page.
    /// Bytes count only for objects that went (a manifest's own digest has a row but no object).
    /// </summary>
    private async Task DeleteClaimedAsync(IReadOnlyList<GcBlob> claimed, Tally tally, CancellationToken cancellationToken)
    {
        if (claimed.Count == 0) return;
        var digests = claimed.Select(b => b.Digest).ToArray();
        var removed = await blobs.DeleteManyAsync(digests, cancellationToken);
        await store.ForgetBlobsAsync(digests, cancellationToken);
        foreach (var blob in claimed)
        {
            if (removed.Contains(blob.Digest)) tally.AddBlob(blob.Size);
        }
        // The claim and the forget each held the database's writer (on SQLite the only one) for a moment: let the
        // pushes and pulls queued behind them go first.
        await Task.Yield();
    }

    private sealed class Tally
    {
        public long Blobs;
        public long Bytes;
        public long ManifestCount;
        public long Uploads;
        public long TagCount;
        public GcRun? Run;
        public List<GcManifest> Manifests { get; } = [];
        public List<ExpiredTag> Tags { get; } = [];

        /// <summary>Every tag a dry run's retention would delete (not only the listed ones): what the rest of the dry run assumes gone.</summary>
        public List<ExpiredTag> Expiring { get; } = [];

        public void AddTag(ExpiredTag tag)
        {
            TagCount++;
            if (Tags.Count < MaxListed) Tags.Add(tag);
        }

        public void AddBlob(long size)
        {
            Blobs++;
            Bytes += size;
        }

        public void AddManifest(GcManifest manifest)
        {
            ManifestCount++;
            if (Manifests.Count < MaxListed) Manifests.Add(manifest);
        }
    }
}
