using Wharf.Core.Digests;

namespace Wharf.Core.Policies;

/// <summary>A namespace's storage: its quota (null: none) and its usage, the bytes of the distinct blobs its manifests reference.</summary>
public sealed record NamespaceUsage(string Namespace, long? QuotaBytes, long UsedBytes, long Blobs, long Repositories);

/// <summary>
/// Repository and namespace rules the registry enforces: immutable tags and storage quotas. The manifest push checks both
/// inside its own transaction (see <c>IRegistryStore.PutManifestAsync</c>); this store reads and sets them.
/// </summary>
public interface IPolicyStore
{
    /// <summary>The repository's immutable tag patterns (empty: none), or null when there is no such repository.</summary>
    Task<IReadOnlyList<string>?> GetImmutableTagsAsync(string repository, CancellationToken cancellationToken);

    /// <summary>Replaces the patterns; false when there is no such repository.</summary>
    Task<bool> SetImmutableTagsAsync(string repository, IReadOnlyList<string> patterns, CancellationToken cancellationToken);

    /// <summary>The tags that point at the manifest.</summary>
    Task<IReadOnlyList<string>> ListTagsOfManifestAsync(string repository, Digest digest, CancellationToken cancellationToken);

    /// <summary>Sets the namespace's quota in bytes (null removes it).</summary>
    Task SetQuotaAsync(string @namespace, long? bytes, CancellationToken cancellationToken);

    Task<NamespaceUsage> GetUsageAsync(string @namespace, CancellationToken cancellationToken);
}
