
namespace Wharf.Core.Policies;

/// <summary>A namespace's storage: its quota (null: none) and its usage, the bytes of the distinct blobs its manifests reference.</summary>
public sealed record NamespaceUsage(string Namespace, long? QuotaBytes, long UsedBytes, long Blobs, long Repositories);

/// <summary>The blob store as the metadata knows it: the blobs with content (not manifests' own rows) and their bytes.</summary>
public sealed record StorageTotals(long Blobs, long Bytes);

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

    /// <summary>Sets the namespace's quota in bytes (null removes it).</summary>
    Task SetQuotaAsync(string @namespace, long? bytes, CancellationToken cancellationToken);

    Task<NamespaceUsage> GetUsageAsync(string @namespace, CancellationToken cancellationToken);

    /// <summary>The namespaces whose manifests use the most bytes, largest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<NamespaceUsage>> ListUsageAsync(int limit, CancellationToken cancellationToken);

    /// <summary>Every live blob that holds content, and its bytes, whether anything references it or not.</summary>
    Task<StorageTotals> GetStorageTotalsAsync(CancellationToken cancellationToken);
}
