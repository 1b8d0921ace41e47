using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Accounts;
using Wharf.Core.References;
using Wharf.Core.Policies;
using Wharf.Core.Repositories;
using Wharf.Core.Retention;
using Wharf.Server.Errors;
using Wharf.Server.Http;
using Wharf.Server.Repositories;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1/repositories</c>: create, list, read, change and delete repositories, list and delete their tags.
/// Names contain slashes, so one catch-all route per method is parsed from its end: <c>…/tags</c> is the tag list
/// and <c>…/tags/&lt;tag&gt;</c> a tag of the repository before it (when that is a valid name); anything else is a repository.
/// </summary>
public static class RepositoriesApi
{
    public static IEndpointRouteBuilder MapRepositoriesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/repositories").WithTags("Repositories").WithBodyLimit(BodyLimits.RepositoryJson).ProducesApiProblems();
        group.MapPost("", CreateAsync).WithSummary("Create a repository");
        group.MapGet("", ListAsync).WithSummary("Repositories you may pull, by name");
        group.MapGet("/{**path}", GetAsync).WithSummary("A repository ({namespace}/{name}) or its tags ({namespace}/{name}/tags)");
        group.MapMethods("/{**path}", ["PATCH"], UpdateAsync).WithSummary("Change a repository's description, README or visibility");
        group.MapPut("/{**path}", PutAsync).WithSummary("Set a repository's immutable tag patterns ({namespace}/{name}/immutable-tags) or retention rules ({namespace}/{name}/retention)");
        group.MapDelete("/{**path}", DeleteAsync).WithSummary("Delete a repository ({namespace}/{name}) or one tag ({namespace}/{name}/tags/{tag})");
        return app;
    }

    private static async Task<Results<Created<RepositoryResponse>, ProblemHttpResult>> CreateAsync(HttpContext context, RepositoryService repositories, CancellationToken ct)
    {
        var (body, error) = await ApiBody.ReadJsonAsync(context, RepositoriesJson.Default.CreateRepositoryRequest);
        if (error is not null) return error;
        if (!RepositoriesJson.TryParseVisibility(body!.Visibility, out var visibility)) return ApiProblems.Invalid("visibility is 'public' or 'private'.", "visibility");
        var result = await repositories.CreateAsync(AccountsApi.Origin(context), body.Namespace, body.Name, visibility, body.Description, body.Readme, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var created = RepositoryResponse.From(result.Value!);
        return TypedResults.Created($"/api/v1/repositories/{created.FullName}", created);
    }

    private static async Task<Results<Ok<RepositoryPage>, ProblemHttpResult>> ListAsync(HttpContext context, RepositoryService repositories, string? @namespace, string? limit, string? cursor, CancellationToken ct)
    {
        if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
        var result = await repositories.ListAsync(context.User, @namespace, size, cursor, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        return TypedResults.Ok(new RepositoryPage(result.Value!.Items.Select(RepositorySummary.From).ToList(), result.Value.NextCursor));
    }

    private static async Task<Results<Ok<RepositoryResponse>, Ok<TagPage>, Ok<ImmutableTagsResponse>, Ok<RetentionResponse>, ProblemHttpResult>> GetAsync(
        HttpContext context, RepositoryService repositories, PolicyService policies, string path, string? limit, string? cursor, CancellationToken ct)
    {
        if (PolicyRoute(path, RetentionSuffix) is { } retained)
        {
            var policy = await policies.GetRetentionAsync(context.User, retained, ct);
            return policy.IsOk ? TypedResults.Ok(RetentionResponse.From(retained, policy.Value!)) : ApiProblems.From(policy.Error!);
        }
        if (PolicyRoute(path, ImmutableTagsSuffix) is { } immutable)
        {
            var patterns = await policies.GetImmutableTagsAsync(context.User, immutable, ct);
            return patterns.IsOk ? TypedResults.Ok(new ImmutableTagsResponse(immutable, [.. patterns.Value!])) : ApiProblems.From(patterns.Error!);
        }
        var route = Parse(path);
        if (route.Tag is not null) return ApiProblems.MethodNotAllowed("DELETE");
        if (route.Tags)
        {
            if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
            var tags = await repositories.ListTagsAsync(context.User, route.Repository, size, cursor, ct);
            if (!tags.IsOk) return ApiProblems.From(tags.Error!);
            return TypedResults.Ok(new TagPage(route.Repository, tags.Value!.Items.Select(TagResponse.From).ToList(), tags.Value.NextCursor));
        }
        var result = await repositories.GetAsync(context.User, route.Repository, ct);
        return result.IsOk ? TypedResults.Ok(RepositoryResponse.From(result.Value!)) : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<Ok<RepositoryResponse>, ProblemHttpResult>> UpdateAsync(HttpContext context, RepositoryService repositories, string path, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Tags || route.Tag is not null) return ApiProblems.MethodNotAllowed(route.Tags ? "GET" : "DELETE");
        var (body, error) = await ApiBody.ReadJsonAsync(context, RepositoriesJson.Default.UpdateRepositoryRequest);
        if (error is not null) return error;
        if (!RepositoriesJson.TryParseVisibility(body!.Visibility, out var visibility)) return ApiProblems.Invalid("visibility is 'public' or 'private'.", "visibility");
        if (body.Description is null && body.Readme is null && body.Visibility is null)
        {
            return ApiProblems.Invalid("Nothing to change: give description, readme or visibility.");
        }
        var origin = AccountsApi.Origin(context);
        if (visibility is not null && context.RequestServices.GetService<AccountService>() is { } accounts)
        {
            // In accounts mode visibility is the accounts module's: its rules (namespace owners) and cache.
            var set = await accounts.SetVisibilityAsync(origin, route.Repository, body.Visibility, ct);
            if (!set.IsOk) return ApiProblems.From(set.Error!);
            visibility = null;
        }
        var result = body.Description is null && body.Readme is null && visibility is null
            ? await repositories.GetAsync(context.User, route.Repository, ct)
            : await repositories.UpdateAsync(origin, route.Repository, new RepositoryUpdate(body.Description, body.Readme, visibility), ct);
        return result.IsOk ? TypedResults.Ok(RepositoryResponse.From(result.Value!)) : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, RepositoryService repositories, string path, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Tags) return ApiProblems.MethodNotAllowed("GET");
        var origin = AccountsApi.Origin(context);
        var result = route.Tag is not null
            ? await repositories.DeleteTagAsync(origin, route.Repository, route.Tag, ct)
            : await repositories.DeleteAsync(origin, route.Repository, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiProblems.From(result.Error!);
    }

    /// <summary>
    /// <c>PUT …/immutable-tags</c> <c>{"patterns": [regex]}</c>: replaces the repository's immutable tag patterns.
    /// <c>PUT …/retention</c> <c>{"keep_last", "keep_pulled_within_days", "keep_tags_matching"}</c> (each optional; none
    /// removes the rules): replaces its retention rules.
    /// </summary>
    private static async Task<Results<Ok<ImmutableTagsResponse>, Ok<RetentionResponse>, ProblemHttpResult>> PutAsync(HttpContext context, PolicyService policies, string path, CancellationToken ct)
    {
        if (PolicyRoute(path, RetentionSuffix) is { } retained)
        {
            var (rules, invalid) = await ApiBody.ReadJsonAsync(context, RepositoriesJson.Default.RetentionRequest);
            if (invalid is not null) return invalid;
            var set = await policies.SetRetentionAsync(context.User, retained, new RetentionPolicy(rules!.KeepLast, rules.KeepPulledWithinDays, rules.KeepTagsMatching), ct);
            return set.IsOk ? TypedResults.Ok(RetentionResponse.From(retained, set.Value!)) : ApiProblems.From(set.Error!);
        }
        if (PolicyRoute(path, ImmutableTagsSuffix) is not { } repository) return ApiProblems.MethodNotAllowed("GET, PATCH, DELETE");
        var (body, problem) = await ApiBody.ReadJsonAsync(context, RepositoriesJson.Default.ImmutableTagsRequest);
        if (problem is not null) return problem;
        var result = await policies.SetImmutableTagsAsync(context.User, repository, body!.Patterns, ct);
        return result.IsOk ? TypedResults.Ok(new ImmutableTagsResponse(repository, [.. result.Value!])) : ApiProblems.From(result.Error!);
    }

    private const string ImmutableTagsSuffix = "/immutable-tags";
    private const string RetentionSuffix = "/retention";

    /// <summary>The repository of a <c>…/immutable-tags</c> or <c>…/retention</c> path, or null.</summary>
    internal static string? PolicyRoute(string path, string suffix)
    {
        path = path.Trim('/');
        return path.EndsWith(suffix, StringComparison.Ordinal) && RepositoryName.IsValid(path[..^suffix.Length]) ? path[..^suffix.Length] : null;
    }

    /// <summary>A parsed path: the repository, and whether it names its tag list or one tag.</summary>
    internal readonly record struct Route(string Repository, bool Tags, string? Tag);

    internal static Route Parse(string path)
    {
        path = path.Trim('/');
        if (path.EndsWith("/tags", StringComparison.Ordinal) && RepositoryName.IsValid(path[..^5])) return new Route(path[..^5], true, null);
        var marker = path.LastIndexOf("/tags/", StringComparison.Ordinal);
        if (marker > 0 && RepositoryName.IsValid(path[..marker]))
        {
            return new Route(path[..marker], false, path[(marker + 6)..]);
        }
        return new Route(path, false, null);
    }
}
