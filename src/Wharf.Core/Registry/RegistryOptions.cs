namespace Wharf.Core.Registry;

/// <summary>Options of the <c>Registry</c> configuration section.</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    /// <summary>Largest manifest accepted, in bytes. Default 4 MiB, the least the spec asks registries to support.</summary>
    public int MaxManifestBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest page of tags, catalog entries or referrers returned at once. Default 10,000.</summary>
    public int MaxPageSize { get; set; } = 10_000;

    /// <summary>Whether manifests, tags and blobs may be deleted through <c>/v2/</c>. Default true.</summary>
    public bool DeleteEnabled { get; set; } = true;

    /// <summary>
    /// How long a tag → digest resolution is cached. Pushes and deletes on this node invalidate at once; other nodes
    /// of a scale-out set see a moved tag after at most this long. Default 2 seconds.
    /// </summary>
    public TimeSpan TagCacheTtl { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a manifest's bytes stay cached (manifests are immutable; deletes invalidate locally). Default 5 minutes.</summary>
    public TimeSpan ManifestCacheTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most manifests held in the cache. Default 10,000.</summary>
    public int ManifestCacheEntries { get; set; } = 10_000;

    /// <summary>How long an idle upload session is kept. Default 24 hours.</summary>
    public TimeSpan UploadIdleTimeout { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Most upload sessions one signed-in user may have open at once, on all nodes together; 0 for no limit. Default 128:
    /// far above what a client needs (docker pushes 5 layers at a time), far below what fills a disk with orphans.
    /// </summary>
    public int MaxUploadSessionsPerUser { get; set; } = 128;

    /// <summary>Most upload sessions open at once from one client address (anonymous or not); 0 for no limit. Default 256.</summary>
    public int MaxUploadSessionsPerAddress { get; set; } = 256;

    /// <summary>The limits on open upload sessions, as the session index counts them.</summary>
    public Storage.UploadSessionLimits SessionLimits() => new(MaxUploadSessionsPerUser, MaxUploadSessionsPerAddress, UploadIdleTimeout);

    public IEnumerable<string> Validate()
    {
        if (MaxManifestBytes < 1024) yield return "Registry:MaxManifestBytes must be at least 1024.";
        if (MaxPageSize < 1) yield return "Registry:MaxPageSize must be at least 1.";
        if (TagCacheTtl < TimeSpan.Zero) yield return "Registry:TagCacheTtl must not be negative.";
        if (ManifestCacheTtl < TimeSpan.Zero) yield return "Registry:ManifestCacheTtl must not be negative.";
        if (ManifestCacheEntries < 0) yield return "Registry:ManifestCacheEntries must not be negative.";
        if (UploadIdleTimeout <= TimeSpan.Zero) yield return "Registry:UploadIdleTimeout must be positive.";
        if (MaxUploadSessionsPerUser < 0) yield return "Registry:MaxUploadSessionsPerUser must not be negative (0: no limit).";
        if (MaxUploadSessionsPerAddress < 0) yield return "Registry:MaxUploadSessionsPerAddress must not be negative (0: no limit).";
    }
}
