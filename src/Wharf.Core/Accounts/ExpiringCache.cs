using System.Collections.Concurrent;

namespace Wharf.Core.Accounts;

/// <summary>A small thread-safe cache whose entries expire after a fixed time; cleared wholesale when it grows past its bound.</summary>
public sealed class ExpiringCache<TKey, TValue>(TimeProvider time, int maxEntries = 10_000) where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, (TValue Value, long ExpiresAt)> _entries = new();

    public bool TryGet(TKey key, out TValue value)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.ExpiresAt > time.GetTimestamp())
        {
            value = entry.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public void Set(TKey key, TValue value, TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero) return;
        if (_entries.Count >= maxEntries) _entries.Clear();
        _entries[key] = (value, time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency));
    }

    public void Remove(TKey key) => _entries.TryRemove(key, out _);

    public void Clear() => _entries.Clear();
}
