using System.Collections.Concurrent;
using Wharf.Core.Events;

namespace Wharf.Core.Repositories;

/// <summary>
/// Counts manifest pulls in memory so that a manifest GET never waits for the database: <see cref="Record"/> is a
/// dictionary lookup and an interlocked add (no allocation once a repository and tag have been seen), and
/// <see cref="Drain"/> hands the counts gathered since the last drain to a background flush.
/// Counts are lost if the process dies between flushes (at most one flush interval's worth).
/// </summary>
public sealed class PullCounter(TimeProvider time) : IRegistryPullHandler
{
    private readonly ConcurrentDictionary<string, Counter> _repositories = new(StringComparer.Ordinal);

    private sealed class Counter
    {
        public long Count;
        public long LastPulledAt;
        public readonly ConcurrentDictionary<string, long> Tags = new(StringComparer.Ordinal);
    }

    public void ManifestPulled(string repository, string? tag) => Record(repository, tag);

    public void Record(string repository, string? tag)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var counter = _repositories.GetOrAdd(repository, static _ => new Counter());
        Interlocked.Increment(ref counter.Count);
        Volatile.Write(ref counter.LastPulledAt, now);
        if (tag is not null) counter.Tags[tag] = now;
    }

    /// <summary>Takes the counts gathered since the last drain; repositories without pulls since then are forgotten.</summary>
    public IReadOnlyList<PullCounts> Drain()
    {
        var drained = new List<PullCounts>();
        foreach (var (repository, counter) in _repositories)
        {
            var count = Interlocked.Exchange(ref counter.Count, 0);
            Dictionary<string, DateTimeOffset>? tags = null;
            foreach (var (tag, at) in counter.Tags)
            {
                if (!counter.Tags.TryRemove(tag, out _)) continue;
                tags ??= new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
                tags[tag] = DateTimeOffset.FromUnixTimeMilliseconds(at);
            }
            if (count == 0 && tags is null)
            {
                _repositories.TryRemove(repository, out _);
                continue;
            }
            drained.Add(new PullCounts(repository, count, DateTimeOffset.FromUnixTimeMilliseconds(Volatile.Read(ref counter.LastPulledAt)),
                (IReadOnlyDictionary<string, DateTimeOffset>?)tags ?? new Dictionary<string, DateTimeOffset>()));
        }
        return drained;
    }

    /// <summary>Puts counts back after a failed flush, so they are written with the next one.</summary>
    public void Restore(IReadOnlyList<PullCounts> counts)
    {
        foreach (var c in counts)
        {
            var counter = _repositories.GetOrAdd(c.Repository, static _ => new Counter());
            Interlocked.Add(ref counter.Count, c.Count);
            var at = c.LastPulledAt.ToUnixTimeMilliseconds();
            if (Volatile.Read(ref counter.LastPulledAt) < at) Volatile.Write(ref counter.LastPulledAt, at);
            foreach (var (tag, tagAt) in c.TagsPulledAt) counter.Tags.TryAdd(tag, tagAt.ToUnixTimeMilliseconds());
        }
    }
}
