using System.Text.Json.Serialization;
using Wharf.Core.Accounts;
using Wharf.Core.Repositories;

namespace Wharf.Server.Repositories;

public sealed record CreateRepositoryRequest(string? Namespace, string? Name, string? Visibility, string? Description, string? Readme);

public sealed record UpdateRepositoryRequest(string? Description, string? Readme, string? Visibility);

public sealed record RepositoryResponse(
    string Namespace, string Name, string FullName, string Repository, string Visibility, string? Description, string? Readme, string? ReadmeHtml,
    DateTimeOffset CreatedAt, DateTimeOffset? UpdatedAt, long PushCount, long PullCount, DateTimeOffset? LastPushedAt, DateTimeOffset? LastPulledAt, long TagCount,
    string? CachedFrom)
{
    public static RepositoryResponse From(RepositoryInfo info)
    {
        var (ns, name) = Split(info.Name);
        return new(ns, name, info.Name, info.Name, RepositoriesJson.Format(info.Visibility), info.Description, info.Readme, ReadmeRenderer.Render(info.Readme),
            info.CreatedAt, info.UpdatedAt, info.PushCount, info.PullCount, info.LastPushedAt, info.LastPulledAt, info.TagCount, info.CachedFrom);
    }

    internal static (string Namespace, string Name) Split(string fullName)
    {
        var slash = fullName.IndexOf('/');
        return slash < 0 ? ("", fullName) : (fullName[..slash], fullName[(slash + 1)..]);
    }
}

public sealed record RepositorySummary(
    string Namespace, string Name, string FullName, string Visibility, string? Description, long PullCount, DateTimeOffset? LastPushedAt,
    DateTimeOffset CreatedAt, DateTimeOffset? UpdatedAt, string? CachedFrom)
{
    public static RepositorySummary From(SearchHit hit)
    {
        var (ns, name) = RepositoryResponse.Split(hit.Name);
        return new(ns, name, hit.Name, RepositoriesJson.Format(hit.Visibility), hit.Description, hit.PullCount, hit.LastPushedAt, hit.CreatedAt, hit.UpdatedAt, hit.CachedFrom);
    }
}

public sealed record RepositoryPage(IReadOnlyList<RepositorySummary> Repositories, string? NextCursor);

public sealed record SearchResponse(string Query, IReadOnlyList<RepositorySummary> Results, string? NextCursor);

public sealed record TagResponse(string Name, string Digest, string MediaType, long? Size, IReadOnlyList<string> Platforms, DateTimeOffset PushedAt, DateTimeOffset? LastPulledAt)
{
    public static TagResponse From(TagDetails tag) =>
        new(tag.Name, tag.Digest.ToString(), tag.MediaType, tag.Size, tag.Platforms, tag.PushedAt, tag.LastPulledAt);
}

public sealed record TagPage(string Repository, IReadOnlyList<TagResponse> Tags, string? NextCursor);

/// <summary>Docker Hub's v1 search result entry.</summary>
public sealed record DockerSearchResult(string Name, string Description, int StarCount, bool IsOfficial, bool IsAutomated);

/// <summary>Docker Hub's v1 search response.</summary>
public sealed record DockerSearchResponse(string Query, int NumResults, int NumPages, int Page, int PageSize, IReadOnlyList<DockerSearchResult> Results);

public sealed record ImmutableTagsRequest(List<string?>? Patterns);
/// <summary><c>PUT …/retention</c>: each rule optional; none removes the repository's rules.</summary>
public sealed record RetentionRequest(int? KeepLast, int? KeepPulledWithinDays, string? KeepTagsMatching);
/// <summary>A repository's retention rules (every field null: none).</summary>
public sealed record RetentionResponse(string Repository, int? KeepLast, int? KeepPulledWithinDays, string? KeepTagsMatching)
{
    public static RetentionResponse From(string repository, Wharf.Core.Retention.RetentionPolicy policy) =>
        new(repository, policy.KeepLast, policy.KeepPulledWithinDays, policy.KeepTagsMatching);
}
public sealed record ImmutableTagsResponse(string Repository, List<string> Patterns);
/// <summary><c>PUT /api/v1/namespaces/{ns}/quota</c>: <c>{"bytes": n}</c>, or <c>{"bytes": null}</c> to remove the quota.</summary>
public sealed record QuotaRequest(long? Bytes);
/// <summary>A namespace's quota (null: none) and usage: the bytes of the distinct blobs its manifests reference.</summary>
public sealed record UsageResponse(string Namespace, long? QuotaBytes, long UsedBytes, long Blobs, long Repositories);

/// <summary>The JSON of the repositories and search APIs, with the options every <c>/api</c> context shares (see <c>ApiPipeline.ConfigureJson</c>).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(CreateRepositoryRequest))]
[JsonSerializable(typeof(UpdateRepositoryRequest))]
[JsonSerializable(typeof(RepositoryResponse))]
[JsonSerializable(typeof(RepositoryPage))]
[JsonSerializable(typeof(SearchResponse))]
[JsonSerializable(typeof(TagPage))]
[JsonSerializable(typeof(DockerSearchResponse))]
[JsonSerializable(typeof(ImmutableTagsRequest))]
[JsonSerializable(typeof(RetentionRequest))]
[JsonSerializable(typeof(RetentionResponse))]
[JsonSerializable(typeof(ImmutableTagsResponse))]
[JsonSerializable(typeof(QuotaRequest))]
[JsonSerializable(typeof(UsageResponse))]
public sealed partial class RepositoriesJson : JsonSerializerContext
{
    public static string Format(RepositoryVisibility visibility) => visibility == RepositoryVisibility.Public ? "public" : "private";

    public static bool TryParseVisibility(string? text, out RepositoryVisibility? visibility)
    {
        visibility = null;
        if (text is null) return true;
        if (text.Equals("public", StringComparison.OrdinalIgnoreCase)) visibility = RepositoryVisibility.Public;
        else if (text.Equals("private", StringComparison.OrdinalIgnoreCase)) visibility = RepositoryVisibility.Private;
        else return false;
        return true;
    }
}
