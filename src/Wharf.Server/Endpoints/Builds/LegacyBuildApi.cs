using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Builds.Worker;
using Wharf.Core.Access;
using Wharf.Core.Builds;

namespace Wharf.Server.Endpoints.Builds;

/// <summary>
/// The earlier build service's endpoints, kept working as thin adapters over <see cref="BuildService"/>:
/// <c>POST /build-push</c>, <c>GET /build-push-status</c>, <c>POST|GET /retry-build</c>. Errors keep that service's
/// shape: <c>{"status": code, "message": "…"}</c> with the same HTTP status, wherever they are written (here, or by the
/// authentication middleware through <see cref="IsLegacyPath"/> and <see cref="WriteErrorAsync"/>).
/// </summary>
public static class LegacyBuildApi
{
    private static readonly string[] Paths = ["/build-push", "/build-push-status", "/retry-build"];

    /// <summary>A request to one of the earlier service's endpoints, whose errors take its shape.</summary>
    public static bool IsLegacyPath(PathString path) => Paths.Any(p => path.Equals(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>Writes <c>{"status": code, "message": "…"}</c> with that HTTP status.</summary>
    public static Task WriteErrorAsync(HttpContext context, int status, string message) =>
        TypedResults.Json(new LegacyErrorDto(status, message), BuildsJsonContext.PlainText.LegacyErrorDto, statusCode: status).ExecuteAsync(context);

    private static readonly Dictionary<string, BuildSourceKind> FileFields = new(StringComparer.Ordinal) { ["file"] = BuildSourceKind.Dockerfile };

    public static IEndpointRouteBuilder MapLegacyBuildApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/build-push", BuildPushAsync).DisableAntiforgery();
        endpoints.MapGet("/build-push-status", StatusAsync);
        endpoints.MapMethods("/retry-build", ["GET", "POST"], RetryAsync);
        return endpoints;
    }

    private static async Task<Results<JsonHttpResult<LegacyStartedDto>, JsonHttpResult<LegacyErrorDto>>> BuildPushAsync(
        HttpContext context, BuildService builds, IBuildSourceStore sources, DockerHubSettings dockerHub, BuildOptions options, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var result = await SubmitAsync(context, id, builds, sources, dockerHub, options, cancellationToken);
        if (result.Problem is { } problem)
        {
            await sources.DeleteAsync(id, CancellationToken.None);
            return Error(problem);
        }
        return TypedResults.Json(new LegacyStartedDto(200, "Build started", id), BuildsJsonContext.PlainText.LegacyStartedDto);
    }

    private static async Task<BuildResult<BuildRecord>> SubmitAsync(HttpContext context, Guid id, BuildService builds, IBuildSourceStore sources,
        DockerHubSettings dockerHub, BuildOptions options, CancellationToken cancellationToken)
    {
        var form = await BuildForm.ReadAsync(context.Request, id, sources, FileFields, cancellationToken);
        if (form.Error is { } error) return new BuildProblem(BuildProblemKind.Invalid, error);
        if (form.Source is { Succeeded: false } refused) return BuildProblems.FromSource(refused);
        if (form.SourceKind is null) return new BuildProblem(BuildProblemKind.Invalid, "The 'file' field (the Dockerfile) is required.");
        if (form.Field("image_name")?.Trim() is not { Length: > 0 } name) return new BuildProblem(BuildProblemKind.Invalid, "The 'image_name' field is required.");
        if (form.Field("image_tag")?.Trim() is not { Length: > 0 } tag) return new BuildProblem(BuildProblemKind.Invalid, "The 'image_tag' field is required.");
        if (name.Contains(':', StringComparison.Ordinal) || name.Contains('@', StringComparison.Ordinal))
            return new BuildProblem(BuildProblemKind.Invalid, $"image_name '{name}' must be a name without a tag or registry.");
        string image;
        var useDockerHub = dockerHub.IsConfigured;
        if (useDockerHub)
        {
            image = $"{options.DockerHubRegistry}/{dockerHub.Namespace}/{name}:{tag}";
        }
        else
        {
            image = context.User.Username() is { } user ? $"{user}/{name}:{tag}" : $"{name}:{tag}";
        }
        if (!ImageReference.TryParse(image, out _, out var imageError)) return new BuildProblem(BuildProblemKind.Invalid, $"image_name/image_tag: {imageError}");
        var submitted = await builds.SubmitAsync(context.User, new BuildSubmission
        {
            Id = id,
            SourceKind = BuildSourceKind.Dockerfile,
            Image = image,
            UseDockerHubSettings = useDockerHub,
        }, cancellationToken);
        if (submitted.Problem is { Kind: BuildProblemKind.Unauthenticated } && context.User.Username() is null)
        {
            // Accounts mode: an anonymous caller has no namespace to push into.
            return new BuildProblem(BuildProblemKind.Unauthenticated,
                $"Sign in to build: send Basic credentials (your user name with your password or a personal access token). The image is pushed into your namespace, as <user>/{name}:{tag}.");
        }
        return submitted;
    }

    private static async Task<Results<JsonHttpResult<LegacyStatusDto>, JsonHttpResult<LegacyErrorDto>>> StatusAsync(
        HttpContext context, ClaimsPrincipal user, BuildService builds, string? build_id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(user, builds, build_id, cancellationToken);
        if (found.Problem is { } problem) return Error(problem);
        var build = found.Value!;
        var request = context.Request;
        var logUrl = $"{request.Scheme}://{request.Host}{request.PathBase}/api/v1/builds/{build.Id}/logs";
        return TypedResults.Json(new LegacyStatusDto(200, new LegacyBuildStatusDto(build.Id, LegacyBuildStatus(build), build.PushStatus.ToLegacy()),
                build.State.ToWire(), BuildDto.ErrorOf(build), logUrl),
            BuildsJsonContext.PlainText.LegacyStatusDto);
    }

    /// <summary>Answers like <c>/build-push</c>: <c>{"status":200,"message":"Retry started","build_id"}</c>.</summary>
    private static async Task<Results<JsonHttpResult<LegacyStartedDto>, JsonHttpResult<LegacyErrorDto>>> RetryAsync(
        ClaimsPrincipal user, BuildService builds, string? build_id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(user, builds, build_id, cancellationToken);
        if (found.Problem is { } problem) return Error(problem);
        var retried = await builds.RetryAsync(user, found.Value!.Id, cancellationToken);
        if (retried.Problem is { } retryProblem) return Error(retryProblem);
        var build = retried.Value!;
        var message = build.BuildStatus == PhaseStatus.Completed ? "Retry started: pushing again without rebuilding" : "Retry started";
        return TypedResults.Json(new LegacyStartedDto(200, message, build.Id), BuildsJsonContext.PlainText.LegacyStartedDto);
    }

    private static async Task<BuildResult<BuildRecord>> FindAsync(ClaimsPrincipal user, BuildService builds, string? buildId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(buildId)) return new BuildProblem(BuildProblemKind.Invalid, "The 'build_id' query parameter is required.");
        if (!Guid.TryParse(buildId, out var id)) return new BuildProblem(BuildProblemKind.Invalid, $"build_id '{Truncate(buildId)}' is not a valid build id (a UUID).");
        return await builds.GetAsync(user, id, cancellationToken);
    }

    /// <summary>A build that ended without finishing its build phase (cancelled or timed out while queued) shows as Failed.</summary>
    private static string LegacyBuildStatus(BuildRecord build) =>
        build.State.IsFinished() && build.State != BuildState.Succeeded && build.BuildStatus is PhaseStatus.Pending or PhaseStatus.InProgress
            ? PhaseStatus.Failed.ToLegacy()
            : build.BuildStatus.ToLegacy();

    private static JsonHttpResult<LegacyErrorDto> Error(BuildProblem problem)
    {
        var status = BuildProblems.StatusCode(problem.Kind);
        return TypedResults.Json(new LegacyErrorDto(status, problem.Message), BuildsJsonContext.PlainText.LegacyErrorDto, statusCode: status);
    }

    private static string Truncate(string text) => text.Length > 64 ? text[..64] + "…" : text;
}
