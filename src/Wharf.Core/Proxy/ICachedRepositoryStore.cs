namespace Wharf.Core.Proxy;

/// <summary>
/// Which repositories a pull-through cache filled, and from which upstream repository (<c>http://host/path</c>):
/// what search and the UI show as "cached", and what mirror mode keeps fresh. A repository pushed to Wharf has none.
/// </summary>
public interface ICachedRepositoryStore
{
    /// <summary>Marks the repository (created when needed) as a copy of <paramref name="upstream"/>. Idempotent; a new upstream replaces the old.</summary>
    Task MarkCachedAsync(string repository, string upstream, CancellationToken cancellationToken);

    /// <summary>The upstream repository the repository copies, or null when it is not a cache's.</summary>
    Task<string?> GetUpstreamAsync(string repository, CancellationToken cancellationToken);

    /// <summary>The upstreams of those of <paramref name="repositories"/> that a cache filled (for a page of a listing).</summary>
    Task<IReadOnlyDictionary<string, string>> GetUpstreamsAsync(IReadOnlyCollection<string> repositories, CancellationToken cancellationToken);
}
