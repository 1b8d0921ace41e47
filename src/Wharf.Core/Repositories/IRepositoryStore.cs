using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Events;

namespace Wharf.Core.Repositories;

/// <summary>
/// Repository metadata beyond the registry's: description, README, visibility, counters, tag details, search. Writes
/// that change a repository take their <see cref="RegistryChange"/>, journaled by the provider in the same transaction.
/// </summary>
public interface IRepositoryStore
{
    Task<CreateRepositoryOutcome> CreateAsync(string repository, RepositoryVisibility visibility, string? description, string? readme, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>The repository, or null when it does not exist. Visibility unset in the store reads as <paramref name="defaultVisibility"/>.</summary>
    Task<RepositoryInfo?> GetAsync(string repository, RepositoryVisibility defaultVisibility, CancellationToken cancellationToken);

    /// <summary>
    /// Like <see cref="GetAsync(string, RepositoryVisibility, CancellationToken)"/>, with <see cref="RepositoryInfo.TagCount"/>
    /// counted only up to <paramref name="tagCountLimit"/> (0: not counted), for callers that show "1,000+ tags" or
    /// nothing: counting every tag of a repository with 100,000 of them costs tens of milliseconds.
    /// </summary>
    Task<RepositoryInfo?> GetAsync(string repository, RepositoryVisibility defaultVisibility, int tagCountLimit, CancellationToken cancellationToken);

    /// <summary>Applies the update; false when the repository does not exist.</summary>
    Task<bool> UpdateAsync(string repository, RepositoryUpdate update, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the repository with its tags, manifests and blob links (blobs stay for garbage collection); the result names
    /// the digests of its manifests. Refused (<see cref="Registry.DeleteStatus.ImmutableTag"/>) while one of its tags
    /// matches one of its immutable patterns, checked inside the delete's transaction with the repository locked.
    /// </summary>
    Task<Registry.DeleteResult> DeleteAsync(string repository, RegistryChange? change, CancellationToken cancellationToken);

    /// <summary>Tags in ASCII order after <paramref name="after"/>, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<TagDetails>> ListTagsAsync(string repository, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// A page of tags in <see cref="TagQuery.Sort"/> order after <see cref="TagQuery.After"/>, keeping those whose name
    /// contains <see cref="TagQuery.NameContains"/> and whose platforms include <see cref="TagQuery.Platform"/>.
    /// </summary>
    Task<IReadOnlyList<TagDetails>> QueryTagsAsync(string repository, TagQuery query, CancellationToken cancellationToken);

    /// <summary>Repositories the filter lets the caller read (optionally of one visibility) that have been pushed to, most recently pushed first (the home page).</summary>
    Task<IReadOnlyList<SearchHit>> ListRecentlyPushedAsync(ReadFilter filter, RepositoryVisibility? visibility, int limit, CancellationToken cancellationToken);

    /// <summary>Repositories the filter lets the caller read, in ASCII order after <paramref name="after"/>.</summary>
    Task<IReadOnlyList<SearchHit>> ListAsync(ReadFilter filter, string? @namespace, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Repository names the filter lets the caller read, in ASCII order after <paramref name="after"/> (the catalog).</summary>
    Task<IReadOnlyList<string>> ListNamesAsync(ReadFilter filter, string? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Ranked full-text search over names, namespaces, descriptions and labels, every word of <paramref name="query"/>
    /// required as a whole word or a prefix. Ranking, the same on every provider: the exact name (or full name) first,
    /// then names starting with the query, then the rest; within a tier by relevance (name &gt; namespace &gt;
    /// description &gt; labels, whole words above prefixes, shorter documents first), or, when the query matches more
    /// than the provider's relevance-ranking limit, by pulls; ties by name.
    /// </summary>
    Task<IReadOnlyList<SearchHit>> SearchAsync(Search.SearchQuery query, ReadFilter filter, string? @namespace, RepositoryVisibility? visibility, int offset, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Every repository the filter lets the caller read (optionally of one namespace and visibility), most pulled
    /// first, ties by name: a page after <paramref name="after"/>, at most <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<SearchHit>> BrowseAsync(ReadFilter filter, string? @namespace, RepositoryVisibility? visibility, BrowsePosition? after, int limit, CancellationToken cancellationToken);

    /// <summary>Counts the search's matches (for Docker's <c>num_results</c>).</summary>
    Task<int> CountSearchAsync(Search.SearchQuery query, ReadFilter filter, CancellationToken cancellationToken);

    /// <summary>Records a push: counters, the manifest's details and, for a tagged push, the repository's labels.</summary>
    Task RecordPushAsync(string repository, Digest digest, ManifestDetails details, bool tagged, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The stored details of manifests of the repository (children of an index), by digest.</summary>
    Task<IReadOnlyDictionary<Digest, ManifestDetails>> GetDetailsAsync(string repository, IReadOnlyList<Digest> digests, CancellationToken cancellationToken);

    /// <summary>Adds pull counts gathered in memory, in one write.</summary>
    Task AddPullsAsync(IReadOnlyList<PullCounts> counts, CancellationToken cancellationToken);
}
