using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Accounts;
using Wharf.Core.References;
using Wharf.Core.Repositories;
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
        var group = app.MapGroup("/api/v1/repositories");
        group.MapPost("", CreateAsync);
        group.MapGet("", ListAsync);
        group.MapGet("/{**path}", GetAsync);
        group.MapMethods("/{**path}", ["PATCH"], UpdateAsync);
        group.MapDelete("/{**path}", DeleteAsync);
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, RepositoryService repositories, CancellationToken ct)
    {
        var (body, error) = await ApiProblems.ReadJsonAsync(request, RepositoriesJson.Default.CreateRepositoryRequest, ct);
        if (error is not null) return error;
        if (!RepositoriesJson.TryParseVisibility(body!.Visibility, out var visibility)) return ApiProblems.BadRequest("visibility is 'public' or 'private'.");
        var result = await repositories.CreateAsync(request.HttpContext.User, body.Namespace, body.Name, visibility, body.Description, body.Readme, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var created = RepositoryResponse.From(result.Value!);
        return TypedResults.Json(created, RepositoriesJson.Default.RepositoryResponse, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(HttpContext context, RepositoryService repositories, string? @namespace, string? limit, string? cursor, CancellationToken ct)
    {
        if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
        var result = await repositories.ListAsync(context.User, @namespace, size, cursor, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var page = new RepositoryPage(result.Value!.Items.Select(RepositorySummary.From).ToList(), result.Value.NextCursor);
        return TypedResults.Json(page, RepositoriesJson.Default.RepositoryPage);
    }

    private static async Task<IResult> GetAsync(HttpContext context, RepositoryService repositories, string path, string? limit, string? cursor, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Tag is not null) return ApiProblems.MethodNotAllowed("DELETE");
        if (route.Tags)
        {
            if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
            var tags = await repositories.ListTagsAsync(context.User, route.Repository, size, cursor, ct);
            if (!tags.IsOk) return ApiProblems.From(tags.Error!);
            var page = new TagPage(route.Repository, tags.Value!.Items.Select(TagResponse.From).ToList(), tags.Value.NextCursor);
            return TypedResults.Json(page, RepositoriesJson.Default.TagPage);
        }
        var result = await repositories.GetAsync(context.User, route.Repository, ct);
        return result.IsOk
            ? TypedResults.Json(RepositoryResponse.From(result.Value!), RepositoriesJson.Default.RepositoryResponse)
            : ApiProblems.From(result.Error!);
    }

    private static async Task<IResult> UpdateAsync(HttpRequest request, RepositoryService repositories, string path, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Tags || route.Tag is not null) return ApiProblems.MethodNotAllowed(route.Tags ? "GET" : "DELETE");
        var (body, error) = await ApiProblems.ReadJsonAsync(request, RepositoriesJson.Default.UpdateRepositoryRequest, ct);
        if (error is not null) return error;
        if (!RepositoriesJson.TryParseVisibility(body!.Visibility, out var visibility)) return ApiProblems.BadRequest("visibility is 'public' or 'private'.");
        if (visibility is not null && request.HttpContext.RequestServices.GetService<AccountService>() is { } accounts)
        {
            // In accounts mode visibility is the accounts module's: its rules (namespace owners), cache and audit record.
            var set = await accounts.SetVisibilityAsync(AccountsApi.Origin(request.HttpContext), route.Repository, body.Visibility, ct);
            if (!set.IsOk) return ApiIo.Problem(set.Error!);
            visibility = null;
        }
        if (body.Description is null && body.Readme is null && body.Visibility is null)
        {
            return ApiProblems.BadRequest("Nothing to change: give description, readme or visibility.");
        }
        var result = body.Description is null && body.Readme is null && visibility is null
            ? await repositories.GetAsync(request.HttpContext.User, route.Repository, ct)
            : await repositories.UpdateAsync(request.HttpContext.User, route.Repository, new RepositoryUpdate(body.Description, body.Readme, visibility), ct);
        return result.IsOk
            ? TypedResults.Json(RepositoryResponse.From(result.Value!), RepositoriesJson.Default.RepositoryResponse)
            : ApiProblems.From(result.Error!);
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, RepositoryService repositories, string path, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Tags) return ApiProblems.MethodNotAllowed("GET");
        var result = route.Tag is not null
            ? await repositories.DeleteTagAsync(context.User, route.Repository, route.Tag, ct)
            : await repositories.DeleteAsync(context.User, route.Repository, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiProblems.From(result.Error!);
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

/// <summary>RFC 7807 problem details for the <c>/api/v1</c> endpoints, and request reading that never ends in a 500.</summary>
internal static class ApiProblems
{
    public static IResult From(RepositoryError error) => error.Problem switch
    {
        RepositoryProblem.Invalid => BadRequest(error.Detail),
        RepositoryProblem.NotFound => TypedResults.Problem(error.Detail, statusCode: StatusCodes.Status404NotFound, title: "Not found"),
        RepositoryProblem.Unauthenticated => TypedResults.Problem(error.Detail, statusCode: StatusCodes.Status401Unauthorized, title: "Authentication required"),
        RepositoryProblem.Forbidden => TypedResults.Problem(error.Detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden"),
        RepositoryProblem.Conflict => TypedResults.Problem(error.Detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict"),
        _ => TypedResults.Problem(error.Detail, statusCode: StatusCodes.Status405MethodNotAllowed, title: "Not allowed here"),
    };

    public static ProblemHttpResult BadRequest(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    public static ProblemHttpResult MethodNotAllowed(string allowed) =>
        TypedResults.Problem($"This resource takes {allowed}.", statusCode: StatusCodes.Status405MethodNotAllowed, title: "Method not allowed");

    public static bool TryLimit(string? text, out int? limit, out IResult? error)
    {
        limit = null;
        error = null;
        if (string.IsNullOrEmpty(text)) return true;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
        {
            limit = value;
            return true;
        }
        error = BadRequest($"limit must be a positive integer, not '{(text.Length > 32 ? text[..32] : text)}'.");
        return false;
    }

    /// <summary>Reads a JSON body (at most 1 MiB); a missing or malformed body is a 400 problem.</summary>
    public static async Task<(T? Value, IResult? Error)> ReadJsonAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken ct)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem("The body must be JSON (Content-Type: application/json).", statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type"));
        }
        if (request.ContentLength > 1024 * 1024) return (null, TypedResults.Problem("The body is larger than 1 MiB.", statusCode: StatusCodes.Status413PayloadTooLarge));
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, type, ct);
            return value is null ? (null, BadRequest("A JSON object body is required.")) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, BadRequest("The body is not valid JSON for this request: " + e.Message));
        }
    }
}
