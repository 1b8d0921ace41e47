using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Repositories;
using Wharf.Server.Errors;
using Wharf.Server.Http;
using Wharf.Server.Repositories;

namespace Wharf.Server.Endpoints;

/// <summary>
/// Search: <c>GET /api/v1/search</c> (ranked, filtered, cursor pages) and Docker Hub's <c>GET /v1/search</c>, which
/// <c>docker search HOST/WORD</c> calls (after <c>GET /v1/_ping</c>). Only repositories the caller may pull appear.
/// </summary>
public static class SearchApi
{
    /// <summary>Largest <c>n</c> of the Docker v1 search (Docker Hub's limit).</summary>
    public const int MaxDockerPageSize = 100;

    public static IEndpointRouteBuilder MapSearchApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/search").WithTags("Search").ProducesApiProblems()
            .MapGet("", SearchAsync).WithSummary("Ranked full-text search over names, descriptions and labels");
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/search", DockerSearchAsync);
        v1.MapGet("/_ping", (HttpContext context) =>
        {
            // Docker asks this before a v1 search; "standalone" means: no separate index to authenticate with.
            context.Response.Headers["X-Docker-Registry-Standalone"] = "true";
            return TypedResults.Text("{}", "application/json");
        });
        return app;
    }

    private static async Task<Results<Ok<SearchResponse>, ProblemHttpResult>> SearchAsync(HttpContext context, RepositoryService repositories,
        string? q, string? @namespace, string? visibility, string? limit, string? cursor, CancellationToken ct)
    {
        if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
        if (!RepositoriesJson.TryParseVisibility(string.IsNullOrEmpty(visibility) ? null : visibility, out var filter))
        {
            return ApiProblems.Invalid("visibility is 'public' or 'private'.", "visibility");
        }
        var result = await repositories.SearchAsync(context.User, q, @namespace, filter, size, cursor, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        return TypedResults.Ok(new SearchResponse(q ?? "", result.Value!.Items.Select(RepositorySummary.From).ToList(), result.Value.NextCursor));
    }

    /// <summary>Docker's search has no field for it: a cached repository says where it comes from in its description.</summary>
    private static string DockerDescription(Core.Repositories.SearchHit hit) => hit.CachedFrom is { } upstream
        ? string.IsNullOrEmpty(hit.Description) ? $"cached from {upstream}" : $"{hit.Description} (cached from {upstream})"
        : hit.Description ?? "";

    private static async Task<IResult> DockerSearchAsync(HttpContext context, RepositoryService repositories, string? q, string? n, string? page, CancellationToken ct)
    {
        var pageSize = 25;
        if (!string.IsNullOrEmpty(n) && (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize < 1))
        {
            return ApiProblems.Invalid("n must be a positive integer.", "n");
        }
        pageSize = Math.Min(pageSize, MaxDockerPageSize);
        var pageNumber = 1;
        if (!string.IsNullOrEmpty(page) && (!int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out pageNumber) || pageNumber < 1 || pageNumber > 10_000))
        {
            return ApiProblems.Invalid("page must be an integer from 1 to 10000.", "page");
        }
        var (hits, total) = await repositories.DockerSearchAsync(context.User, q, pageSize, pageNumber, ct);
        var results = hits.Select(h => new DockerSearchResult(h.Name, DockerDescription(h), 0, false, false)).ToList();
        var pages = total == 0 ? 0 : (total + pageSize - 1) / pageSize;
        var response = new DockerSearchResponse(q ?? "", total, pages, pageNumber, pageSize, results);
        return TypedResults.Json(response, RepositoriesJson.Default.DockerSearchResponse);
    }
}
