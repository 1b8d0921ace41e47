using System.Collections.Concurrent;
using Wharf.Core.Digests;
using Wharf.Core.Signals;

namespace Wharf.Core.Registry;

/// <summary>
/// A small in-process cache of tag resolutions and manifests, so that a manifest GET by tag costs no database round
/// trip. Invalidations go through the <see cref="ISignalBus"/>: this node drops the entry at once, and every other node
/// sharing the metadata store drops it as soon as the signal reaches it (with PostgreSQL, milliseconds). Entries also
/// expire after their time to live, the fallback when a signal is missed. Safe to lose: it is only a cache.
/// </summary>
public sealed class ManifestCache : IDisposable
{
    private readonly ConcurrentDictionary<(string Repository, string Tag), Entry<Digest>> _tags = new();
    private readonly ConcurrentDictionary<(string Repository, Digest Digest), Entry<StoredManifest>> _manifests = new();
    private readonly RegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ISignalBus _signals;
    private readonly IDisposable[] _subscriptions;
    private long _version;

    private readonly record struct Entry<T>(T Value, long ExpiresAt);

    public ManifestCache(RegistryOptions options, TimeProvider time, ISignalBus signals)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(signals);
        _options = options;
        _time = time;
        _signals = signals;
        _subscriptions =
        [
            signals.Subscribe(SignalTopic.TagChanged, OnTagChanged),
            signals.Subscribe(SignalTopic.ManifestDeleted, OnManifestDeleted),
        ];
    }

    /// <summary>
    /// Changes with every invalidation. Read it before a database lookup and hand it to <see cref="SetTag"/>: a
    /// resolution read while an invalidation arrived is not cached (it may be the value the invalidation replaced).
    /// </summary>
    public long Version => Volatile.Read(ref _version);

    public bool TryGetTag(string repository, string tag, out Digest digest)
    {
        if (_tags.TryGetValue((repository, tag), out var entry) && entry.ExpiresAt > _time.GetTimestamp())
        {
            digest = entry.Value;
            return true;
        }
        digest = default;
        return false;
    }

    /// <summary>Caches a resolution read from the store, unless an invalidation came since <paramref name="versionBeforeRead"/>.</summary>
    public void SetTag(string repository, string tag, Digest digest, long versionBeforeRead)
    {
        if (_options.TagCacheTtl <= TimeSpan.Zero) return;
        if (_tags.Count >= _options.ManifestCacheEntries) _tags.Clear();
        _tags[(repository, tag)] = new(digest, Expiry(_options.TagCacheTtl));
        // An invalidation that raced the store read (or this write) wins: drop what was just added.
        if (Version != versionBeforeRead) _tags.TryRemove((repository, tag), out _);
    }

    public bool TryGetManifest(string repository, Digest digest, out StoredManifest manifest)
    {
        if (_manifests.TryGetValue((repository, digest), out var entry) && entry.ExpiresAt > _time.GetTimestamp())
        {
            manifest = entry.Value;
            return true;
        }
        manifest = null!;
        return false;
    }

    public void SetManifest(string repository, StoredManifest manifest)
    {
        if (_options.ManifestCacheTtl <= TimeSpan.Zero || _options.ManifestCacheEntries == 0) return;
        if (_manifests.Count >= _options.ManifestCacheEntries) _manifests.Clear();
        _manifests[(repository, manifest.Digest)] = new(manifest, Expiry(_options.ManifestCacheTtl));
    }

    /// <summary>The tag moved or went away: forgotten here at once and on every other node.</summary>
    public void InvalidateTag(string repository, string tag) => _signals.Publish(SignalTopic.TagChanged, repository + ":" + tag);

    /// <summary>The manifest was deleted: it and every cached tag of the repository (a delete can untag several) are forgotten everywhere.</summary>
    public void InvalidateManifest(string repository, Digest digest) => _signals.Publish(SignalTopic.ManifestDeleted, repository + "@" + digest);

    private void OnTagChanged(string subject)
    {
        Interlocked.Increment(ref _version);
        if (subject == ISignalBus.AnySubject)
        {
            _tags.Clear();
            return;
        }
        // Repository names hold no ':', tags no '/': the last ':' splits them.
        var colon = subject.LastIndexOf(':');
        if (colon > 0) _tags.TryRemove((subject[..colon], subject[(colon + 1)..]), out _);
        Interlocked.Increment(ref _version);
    }

    private void OnManifestDeleted(string subject)
    {
        Interlocked.Increment(ref _version);
        if (subject == ISignalBus.AnySubject)
        {
            _tags.Clear();
            _manifests.Clear();
            return;
        }
        var at = subject.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || !Digest.TryParse(subject[(at + 1)..], out var digest)) return;
        var repository = subject[..at];
        _manifests.TryRemove((repository, digest), out _);
        foreach (var key in _tags.Keys)
        {
            if (key.Repository == repository) _tags.TryRemove(key, out _);
        }
        Interlocked.Increment(ref _version);
    }

    private long Expiry(TimeSpan ttl) => _time.GetTimestamp() + (long)(ttl.TotalSeconds * _time.TimestampFrequency);

    public void Dispose()
    {
        foreach (var subscription in _subscriptions) subscription.Dispose();
    }
}
