using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Retention;

namespace Wharf.Core.Gc;

/// <summary>A blob row the collector may claim: nothing referenced it when it was listed.</summary>
public sealed record GcBlob(Digest Digest, long Size);

/// <summary>A manifest that no tag, index or live subject keeps.</summary>
public sealed record GcManifest(string Repository, Digest Digest);

/// <summary>One recorded collection.</summary>
public sealed record GcRun(
    long Id,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    bool DryRun,
    string Trigger,
    long BlobsDeleted,
    long BytesFreed,
    long ManifestsDeleted,
    long UploadsExpired,
    string? Error)
{
    /// <summary>Tags retention deleted (a dry run: would delete).</summary>
    public long TagsDeleted { get; init; }

    public TimeSpan? Duration => FinishedAt is { } end ? end - StartedAt : null;
}

/// <summary>
/// The garbage collector's view of the metadata store. Every decision that races with pushes is taken here, in the
/// database: <see cref="TryMarkDeletingAsync"/> moves blobs from <c>live</c> to <c>deleting</c> only when nothing
/// references them (compare-and-swap), and a link or a manifest push that meets a <c>deleting</c> blob is refused
/// (see <c>IRegistryStore.LinkBlobAsync</c>), so no manifest ever ends up pointing at a deleted object.
/// </summary>
public interface IGcStore
{
    /// <summary>
    /// Takes the one collector lock of the store (across processes and nodes), or null when another collector holds it.
    /// Disposing releases it; so does the holder's death.
    /// </summary>
    Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken);

    /// <summary>Blobs left in <c>deleting</c> (by this run, or by a collector that died): their object goes, then their row.</summary>
    Task<IReadOnlyList<GcBlob>> ListDeletingBlobsAsync(string? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Live blobs, in digest order after <paramref name="after"/>, last linked before <paramref name="linkedBefore"/>, that no
    /// manifest references (no layer, config or manifest of that digest in any repository). With
    /// <paramref name="ignoringUnkeptManifests"/> (a dry run), manifests that <see cref="ListUnkeptManifestsAsync"/> would
    /// return (given <paramref name="assumingDeleted"/>) do not count as references (and rows of manifests' own digests,
    /// which hold no object, are left out).
    /// </summary>
    Task<IReadOnlyList<GcBlob>> ListUnreferencedBlobsAsync(
        DateTimeOffset linkedBefore, bool ignoringUnkeptManifests, bool deleteUntagged, IReadOnlyCollection<ExpiredTag>? assumingDeleted, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Compare-and-swap over a page of candidates, in one transaction: moves each blob from <c>live</c> to <c>deleting</c>
    /// and removes every repository's link to it, only when it is still unreferenced and was last linked before
    /// <paramref name="linkedBefore"/>. Returns the blobs claimed (with their sizes); the others changed, or are being
    /// linked or referenced by a push right now, and stay <c>live</c> (the provider may skip them rather than wait).
    /// </summary>
    Task<IReadOnlyList<GcBlob>> TryMarkDeletingAsync(IReadOnlyCollection<Digest> digests, DateTimeOffset linkedBefore, CancellationToken cancellationToken);

    /// <summary>
    /// Claims objects of the blob store that have no row (uploads that never got linked), in one transaction: inserts a
    /// <c>deleting</c> row for each, so that no link can be made while the object is deleted. Returns those claimed; an
    /// object whose row exists meanwhile is left alone.
    /// </summary>
    Task<IReadOnlyList<GcBlob>> TryClaimOrphansAsync(IReadOnlyCollection<GcBlob> orphans, CancellationToken cancellationToken);

    /// <summary>Which of <paramref name="digests"/> have a blob row, in any state.</summary>
    Task<IReadOnlySet<Digest>> FindKnownBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken);

    /// <summary>Removes the <c>deleting</c> rows of a page of blobs, in one transaction, once their objects are gone.</summary>
    Task ForgetBlobsAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken);

    /// <summary>
    /// Manifests pushed before <paramref name="pushedBefore"/> that nothing keeps: kept are tagged manifests, manifests
    /// pushed since, the children of a kept index, the referrers of a kept manifest, and (without
    /// <paramref name="deleteUntagged"/>) every manifest that is not a referrer. So a referrer whose subject is gone goes.
    /// The tags <paramref name="assumingDeleted"/> (a dry run's: those retention would delete first; matched by repository
    /// and name) keep nothing, as if they were gone.
    /// </summary>
    Task<IReadOnlyList<GcManifest>> ListUnkeptManifestsAsync(
        DateTimeOffset pushedBefore, bool deleteUntagged, IReadOnlyCollection<ExpiredTag>? assumingDeleted, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes a page of manifests in one transaction, each only when, inside it, it is still untagged, pushed before
    /// <paramref name="pushedBefore"/>, no manifest of its repository lists it and its subject (if any) is gone; journals
    /// the <paramref name="change"/> of each one deleted with it. Returns those deleted, in page order; the others changed,
    /// or a push holds them right now (the provider may skip those rather than wait).
    /// </summary>
    Task<IReadOnlyList<GcManifest>> TryDeleteUnkeptManifestsAsync(IReadOnlyList<GcManifest> manifests, DateTimeOffset pushedBefore, Func<GcManifest, RegistryChange> change, CancellationToken cancellationToken);

    Task<long> StartRunAsync(DateTimeOffset startedAt, bool dryRun, string trigger, CancellationToken cancellationToken);

    Task FinishRunAsync(GcRun run, CancellationToken cancellationToken);

    /// <summary>Runs, newest first, with ids below <paramref name="before"/> when given.</summary>
    Task<IReadOnlyList<GcRun>> ListRunsAsync(long? before, int limit, CancellationToken cancellationToken);
}
