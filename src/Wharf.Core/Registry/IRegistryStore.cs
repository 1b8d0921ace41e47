using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Manifests;

namespace Wharf.Core.Registry;

/// <summary>A manifest as stored: the raw bytes exactly as pushed, and what was read from them.</summary>
public sealed record StoredManifest(
    Digest Digest,
    string MediaType,
    byte[] Content,
    string? ArtifactType,
    Digest? Subject,
    DateTimeOffset PushedAt);

/// <summary>
/// A manifest to store. <see cref="Manifest"/> gives its references, subject and artifact type. A manifest
/// <see cref="FromUpstream"/> (a pull-through cache's copy) is stored before its blobs and child manifests, which are
/// fetched when a client asks for them: the store does not require them to be present.
/// </summary>
public sealed record NewManifest(Digest Digest, string MediaType, byte[] Content, ParsedManifest Manifest, bool FromUpstream = false);

/// <summary>An entry of a referrers listing.</summary>
public sealed record Referrer(Digest Digest, string MediaType, long Size, string? ArtifactType, string? AnnotationsJson);

public enum PutManifestStatus
{
    Stored,
    /// <summary>A config, layer or child manifest is not present in the repository.</summary>
    MissingReference,
    /// <summary>A tag to move matches one of the repository's immutable tag patterns (<see cref="PutManifestResult.Tag"/>, <see cref="PutManifestResult.Rule"/>).</summary>
    ImmutableTag,
    /// <summary>The namespace's usage with this manifest's blobs would pass its quota (<see cref="PutManifestResult.Quota"/>, <see cref="PutManifestResult.Usage"/>, <see cref="PutManifestResult.Needed"/>).</summary>
    QuotaExceeded,
}

/// <summary>The outcome of linking a blob into a repository.</summary>
public enum LinkBlobStatus
{
    Linked,
    /// <summary>
    /// The garbage collector is deleting the blob (or, with a presence check, its object is gone): nothing was linked.
    /// The client uploads it again.
    /// </summary>
    Gone,
}

/// <summary>The outcome of deleting a tag, a manifest or a repository.</summary>
public enum DeleteStatus
{
    Deleted,
    /// <summary>There was no such tag, manifest or repository.</summary>
    NotFound,
    /// <summary>
    /// The delete would remove a tag that one of the repository's immutable patterns holds (<see cref="DeleteResult.Tag"/>,
    /// <see cref="DeleteResult.Rule"/>): decided inside the delete's transaction, so a push that lands a matching tag
    /// before it commits is seen. Nothing was deleted.
    /// </summary>
    ImmutableTag,
}

/// <summary>What a delete did; a repository's delete gives the digests of the manifests it removed.</summary>
public readonly record struct DeleteResult(DeleteStatus Status)
{
    public string? Tag { get; init; }
    public string? Rule { get; init; }
    public IReadOnlyList<Digest> Manifests { get; init; } = [];

    public bool IsDeleted => Status == DeleteStatus.Deleted;

    public static DeleteResult Deleted(IReadOnlyList<Digest>? manifests = null) => new(DeleteStatus.Deleted) { Manifests = manifests ?? [] };
    public static DeleteResult NotFound() => new(DeleteStatus.NotFound);
    public static DeleteResult Immutable(string tag, string rule) => new(DeleteStatus.ImmutableTag) { Tag = tag, Rule = rule };
}

public readonly record struct PutManifestResult(PutManifestStatus Status, Digest? Missing = null)
{
    public string? Tag { get; init; }
    public string? Rule { get; init; }
    public long Quota { get; init; }
    public long Usage { get; init; }
    public long Needed { get; init; }

    public static PutManifestResult Stored() => new(PutManifestStatus.Stored);
    public static PutManifestResult MissingReference(Digest digest) => new(PutManifestStatus.MissingReference, digest);
    public static PutManifestResult Immutable(string tag, string rule) => new(PutManifestStatus.ImmutableTag) { Tag = tag, Rule = rule };
    public static PutManifestResult OverQuota(long quota, long usage, long needed) => new(PutManifestStatus.QuotaExceeded) { Quota = quota, Usage = usage, Needed = needed };
}

/// <summary>
/// Registry metadata: repositories, per-repository blob links, manifests (raw bytes), tags, manifest references and referrers.
/// Implementations decide each write in one transaction, so that concurrent pushes and deletes never leave
/// a manifest whose references are gone. A write that changes the registry takes the <see cref="RegistryChange"/> it
/// makes: when the write happens, the provider hands it to its change journal inside the same transaction (null: nothing to journal).
/// </summary>
public interface IRegistryStore
{
    /// <summary>Creates the repository when it does not exist.</summary>
    Task EnsureRepositoryAsync(string repository, CancellationToken cancellationToken);

    Task<bool> RepositoryExistsAsync(string repository, CancellationToken cancellationToken);

    /// <summary>Repository names in ASCII order, after <paramref name="last"/> (exclusive), at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Links a stored blob into the repository (creating the repository when needed), idempotent, and marks it linked
    /// now (garbage collection's grace period counts from there). A blob the collector is deleting is not linked
    /// (<see cref="LinkBlobStatus.Gone"/>). When the store knows no row for the blob and <paramref name="isStored"/> is
    /// given, it is asked inside the transaction whether the object exists (a collector may have deleted it between
    /// the upload and this link); false: nothing is linked, <see cref="LinkBlobStatus.Gone"/>.
    /// </summary>
    Task<LinkBlobStatus> LinkBlobAsync(string repository, Digest digest, long size, Func<CancellationToken, ValueTask<bool>>? isStored, CancellationToken cancellationToken);

    /// <summary>The size of the blob when the repository links it; null otherwise.</summary>
    Task<long?> GetLinkedBlobSizeAsync(string repository, Digest digest, CancellationToken cancellationToken);

    /// <summary>Removes the repository's link to the blob; false when there was none.</summary>
    Task<bool> UnlinkBlobAsync(string repository, Digest digest, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the manifest (idempotent for the same digest) and points <paramref name="tags"/> at it, in one transaction.
    /// Every required blob must be linked in the repository and every child manifest stored in it, else
    /// <see cref="PutManifestStatus.MissingReference"/> and nothing is written (not checked for a manifest
    /// <see cref="NewManifest.FromUpstream"/>). The subject need not exist. Inside the same transaction a tag that exists,
    /// points elsewhere and matches an immutable pattern of the repository refuses the push
    /// (<see cref="PutManifestStatus.ImmutableTag"/>), and so does a namespace quota that the manifest's new blobs would pass
    /// (<see cref="PutManifestStatus.QuotaExceeded"/>); nothing is written then either. A manifest from upstream (the
    /// pull-through cache mirrors what the upstream holds) is checked against neither.
    /// </summary>
    Task<PutManifestResult> PutManifestAsync(string repository, NewManifest manifest, IReadOnlyList<string> tags, RegistryChange? change, CancellationToken cancellationToken);

    Task<StoredManifest?> GetManifestAsync(string repository, Digest digest, CancellationToken cancellationToken);

    /// <summary>The digest the tag points at, or null.</summary>
    Task<Digest?> ResolveTagAsync(string repository, string tag, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the manifest and every tag pointing at it. Refused (<see cref="DeleteStatus.ImmutableTag"/>) when one of
    /// those tags matches an immutable pattern of the repository, checked inside the delete's transaction after the
    /// manifest is locked, so a concurrent push that tags it is either seen or waits.
    /// </summary>
    Task<DeleteResult> DeleteManifestAsync(string repository, Digest digest, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the tag (not the manifest). Refused (<see cref="DeleteStatus.ImmutableTag"/>) when it matches an immutable
    /// pattern of the repository, read inside the delete's transaction.
    /// </summary>
    Task<DeleteResult> DeleteTagAsync(string repository, string tag, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>Tags in ASCII order, after <paramref name="last"/> (exclusive), at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(string repository, string? last, int limit, CancellationToken cancellationToken);

    /// <summary>Manifests in the repository whose subject is <paramref name="subject"/>, optionally of one artifact type.</summary>
    Task<IReadOnlyList<Referrer>> ListReferrersAsync(string repository, Digest subject, string? artifactType, CancellationToken cancellationToken);
}

public static class RegistryStoreExtensions
{
    /// <summary>Links a blob whose object the caller knows is stored (see <see cref="IRegistryStore.LinkBlobAsync"/>).</summary>
    public static Task<LinkBlobStatus> LinkBlobAsync(this IRegistryStore store, string repository, Digest digest, long size, CancellationToken cancellationToken) =>
        store.LinkBlobAsync(repository, digest, size, null, cancellationToken);
}
