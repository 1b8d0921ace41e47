using Wharf.Core.Accounts;
using Wharf.Core.Digests;

namespace Wharf.Core.Repositories;

/// <summary>A repository as the REST API shows it.</summary>
public sealed record RepositoryInfo(
    string Name,
    string? Namespace,
    RepositoryVisibility Visibility,
    string? Description,
    string? Readme,
    DateTimeOffset CreatedAt,
    DateTimeOffset? UpdatedAt,
    long PushCount,
    long PullCount,
    DateTimeOffset? LastPushedAt,
    DateTimeOffset? LastPulledAt,
    long TagCount)
{
    /// <summary>The upstream repository a pull-through cache copies this one from (<c>http://host/path</c>); null for a pushed one.</summary>
    public string? CachedFrom { get; init; }
}

/// <summary>A tag with what its manifest holds: size is the sum of layer sizes; platforms are <c>os/arch[/variant]</c>.</summary>
public sealed record TagDetails(
    string Name,
    Digest Digest,
    string MediaType,
    long? Size,
    IReadOnlyList<string> Platforms,
    DateTimeOffset PushedAt,
    DateTimeOffset? LastPulledAt);

/// <summary>Changes to a repository; null members stay as they are.</summary>
public sealed record RepositoryUpdate(string? Description, string? Readme, RepositoryVisibility? Visibility);

/// <summary>A search hit.</summary>
public sealed record SearchHit(
    string Name,
    string? Namespace,
    RepositoryVisibility Visibility,
    string? Description,
    long PullCount,
    DateTimeOffset? LastPushedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? UpdatedAt)
{
    /// <summary>The upstream repository a pull-through cache copies this one from; null for a pushed one.</summary>
    public string? CachedFrom { get; init; }
}

/// <summary>Where a page of a browse listing (most pulled first) starts: after the repository with these pulls and this name.</summary>
public sealed record BrowsePosition(long PullCount, string Name);

/// <summary>What a listing may show: the SQL-friendly form of <see cref="CallerAccess"/>, with the default visibility of repositories that have none stored.</summary>
public sealed record ReadFilter(CallerAccess Access, RepositoryVisibility DefaultVisibility);

/// <summary>What was read from a pushed manifest (and its image config) for listings and search.</summary>
public sealed record ManifestDetails(long Size, IReadOnlyList<string> Platforms, IReadOnlyDictionary<string, string>? Labels);

/// <summary>Pull counts gathered in memory since the last flush.</summary>
public sealed record PullCounts(string Repository, long Count, DateTimeOffset LastPulledAt, IReadOnlyDictionary<string, DateTimeOffset> TagsPulledAt);

public enum CreateRepositoryOutcome
{
    Created,
    Exists,
}

/// <summary>A page of items and the cursor of the next page (null on the last).</summary>
public sealed record CursorPage<T>(IReadOnlyList<T> Items, string? NextCursor);
