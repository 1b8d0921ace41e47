using System.Collections.Concurrent;
using Wharf.Core.Digests;

namespace Wharf.Core.Registry;

/// <summary>
/// A small in-process cache of tag resolutions and manifests, so that a manifest GET by tag costs no
/// database round trip. Entries expire after their time to live; writes on this node invalidate at once.
/// Safe to lose: it is only a cache.
/// </summary>
public sealed class ManifestCache(RegistryOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Repository, string Tag), Entry<Digest>> _tags = new();
    private readonly ConcurrentDictionary<(string Repository, Digest Digest), Entry<StoredManifest>> _manifests = new();

    private readonly record struct Entry<T>(T Value, long ExpiresAt);

    public bool TryGetTag(string repository, string tag, out Digest digest)
    {
        if (_tags.TryGetValue((repository, tag), out var entry) && entry.ExpiresAt > time.GetTimestamp())
        {
            digest = entry.Value;
            return true;
        }
        digest = default;
        return false;
    }

    public void SetTag(string repository, string tag, Digest digest)
    {
        if (options.TagCacheTtl <= TimeSpan.Zero) return;
        if (_tags.Count >= options.ManifestCacheEntries) _tags.Clear();
        _tags[(repository, tag)] = new(digest, Expiry(options.TagCacheTtl));
    }

    public bool TryGetManifest(string repository, Digest digest, out StoredManifest manifest)
    {
        if (_manifests.TryGetValue((repository, digest), out var entry) && entry.ExpiresAt > time.GetTimestamp())
        {
            manifest = entry.Value;
            return true;
        }
        manifest = null!;
        return false;
    }

    public void SetManifest(string repository, StoredManifest manifest)
    {
        if (options.ManifestCacheTtl <= TimeSpan.Zero || options.ManifestCacheEntries == 0) return;
        if (_manifests.Count >= options.ManifestCacheEntries) _manifests.Clear();
        _manifests[(repository, manifest.Digest)] = new(manifest, Expiry(options.ManifestCacheTtl));
    }

    public void InvalidateTag(string repository, string tag) => _tags.TryRemove((repository, tag), out _);

    /// <summary>Forgets the manifest and every cached tag of the repository (a delete can untag several).</summary>
    public void InvalidateManifest(string repository, Digest digest)
    {
        _manifests.TryRemove((repository, digest), out _);
        foreach (var key in _tags.Keys)
        {
            if (key.Repository == repository) _tags.TryRemove(key, out _);
        }
    }

    private long Expiry(TimeSpan ttl) => time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency);
}
