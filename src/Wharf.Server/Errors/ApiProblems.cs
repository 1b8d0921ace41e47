using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Repositories;

namespace Wharf.Server.Errors;

/// <summary>
/// The one problem mapper of <c>/api</c>: every expected outcome of a use case (account, repository and build errors)
/// and every refusal of the pipeline (body, auth, routes) becomes an RFC 7807 problem here, with the status's standard
/// title and, where one field is at fault, a <c>field</c> extension.
/// </summary>
public static class ApiProblems
{
    public static ProblemHttpResult Status(int status, string detail, string? field = null) =>
        TypedResults.Problem(detail, statusCode: status, title: ReasonPhrases.GetReasonPhrase(status),
            extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    public static ProblemHttpResult Invalid(string detail, string? field = null) => Status(StatusCodes.Status400BadRequest, detail, field);

    public static ProblemHttpResult Unauthenticated(string? detail = null) =>
        Status(StatusCodes.Status401Unauthorized, detail ?? "Log in first: Basic credentials or a bearer token.");

    public static ProblemHttpResult Forbidden(string detail) => Status(StatusCodes.Status403Forbidden, detail);

    public static ProblemHttpResult NotFound(string detail) => Status(StatusCodes.Status404NotFound, detail);

    public static ProblemHttpResult Conflict(string detail, string? field = null) => Status(StatusCodes.Status409Conflict, detail, field);

    public static ProblemHttpResult MethodNotAllowed(string allowed) => Status(StatusCodes.Status405MethodNotAllowed, $"This resource takes {allowed}.");

    public static ProblemHttpResult TooLarge(long limit) =>
        Status(StatusCodes.Status413PayloadTooLarge, string.Create(CultureInfo.InvariantCulture, $"The request body is larger than this route's limit of {limit} bytes."));

    public static ProblemHttpResult UnsupportedMediaType(string detail) => Status(StatusCodes.Status415UnsupportedMediaType, detail);

    public static ProblemHttpResult From(AccountError error) => error.Kind switch
    {
        AccountErrorKind.Invalid => Invalid(error.Message, error.Field),
        AccountErrorKind.Unauthorized => Unauthenticated(error.Message),
        AccountErrorKind.Forbidden => Forbidden(error.Message),
        AccountErrorKind.NotFound => NotFound(error.Message),
        _ => Conflict(error.Message, error.Field),
    };

    public static ProblemHttpResult From(RepositoryError error) => error.Problem switch
    {
        RepositoryProblem.Invalid => Invalid(error.Detail),
        RepositoryProblem.NotFound => NotFound(error.Detail),
        RepositoryProblem.Unauthenticated => Unauthenticated(error.Detail),
        RepositoryProblem.Forbidden => Forbidden(error.Detail),
        RepositoryProblem.Conflict => Conflict(error.Detail),
        _ => Status(StatusCodes.Status405MethodNotAllowed, error.Detail),
    };

    public static ProblemHttpResult From(BuildProblem problem) => Status(StatusCode(problem.Kind), problem.Message);

    /// <summary>The HTTP status of a build problem (also the legacy build endpoints' <c>status</c> field).</summary>
    public static int StatusCode(BuildProblemKind kind) => kind switch
    {
        BuildProblemKind.NotFound => StatusCodes.Status404NotFound,
        BuildProblemKind.Conflict => StatusCodes.Status409Conflict,
        BuildProblemKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        BuildProblemKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        BuildProblemKind.Forbidden => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <summary>Parses the <c>limit</c> query parameter of a listing: absent, or a positive whole number.</summary>
    public static bool TryLimit(string? text, out int? limit, out ProblemHttpResult? problem)
    {
        limit = null;
        problem = null;
        if (string.IsNullOrEmpty(text)) return true;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
        {
            limit = value;
            return true;
        }
        problem = Invalid($"limit must be a positive integer, not '{(text.Length > 32 ? text[..32] : text)}'.", "limit");
        return false;
    }

    /// <summary>
    /// Parses <c>limit</c> (1 to <paramref name="max"/>, <paramref name="defaultLimit"/> when absent) and <c>cursor</c> (an id
    /// this API returned: the page continues below it) of a listing keyed by descending ids.
    /// </summary>
    public static bool TryIdPage(string? limit, string? cursor, int defaultLimit, int max, out int size, out long? before, out ProblemHttpResult? problem)
    {
        size = defaultLimit;
        before = null;
        problem = null;
        if (limit is { Length: > 0 } && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > max))
        {
            problem = Invalid($"limit is a whole number from 1 to {max}.", "limit");
            return false;
        }
        if (cursor is { Length: > 0 })
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1)
            {
                problem = Invalid("cursor is not one this API returned.", "cursor");
                return false;
            }
            before = id;
        }
        return true;
    }
}
