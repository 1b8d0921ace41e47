using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Builds;

namespace Wharf.Server.Endpoints.Builds;

/// <summary>Build problems as HTTP statuses, in one place.</summary>
internal static class BuildProblems
{
    public static int StatusCode(BuildProblemKind kind) => kind switch
    {
        BuildProblemKind.Invalid => StatusCodes.Status400BadRequest,
        BuildProblemKind.NotFound => StatusCodes.Status404NotFound,
        BuildProblemKind.Conflict => StatusCodes.Status409Conflict,
        BuildProblemKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        BuildProblemKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        BuildProblemKind.Forbidden => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status400BadRequest,
    };

    public static BuildProblem FromSource(SourceSaveResult result) => new(
        result.Problem == SourceProblem.TooLarge ? BuildProblemKind.TooLarge : BuildProblemKind.Invalid,
        result.Message ?? "The source was refused.");

    /// <summary>An RFC 7807 problem for <c>/api/v1</c>.</summary>
    public static ProblemHttpResult Problem(BuildProblem problem) =>
        TypedResults.Problem(detail: problem.Message, statusCode: StatusCode(problem.Kind), title: Title(problem.Kind));

    public static ProblemHttpResult Problem(BuildProblemKind kind, string message) => Problem(new BuildProblem(kind, message));

    private static string Title(BuildProblemKind kind) => kind switch
    {
        BuildProblemKind.Invalid => "Invalid build request",
        BuildProblemKind.NotFound => "Not found",
        BuildProblemKind.Conflict => "Conflict",
        BuildProblemKind.TooLarge => "Too large",
        BuildProblemKind.Unauthenticated => "Authentication required",
        BuildProblemKind.Forbidden => "Forbidden",
        _ => "Error",
    };
}
