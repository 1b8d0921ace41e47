using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Builds;
using Wharf.Core.Signals;

namespace Wharf.Server.Endpoints.Builds;

/// <summary><c>/api/v1/builds</c>: submit (multipart), list, show, logs (plain or followed as server-sent events), retry, cancel.</summary>
public static class BuildsApi
{
    private static readonly Dictionary<string, BuildSourceKind> FileFields = new(StringComparer.Ordinal)
    {
        ["dockerfile"] = BuildSourceKind.Dockerfile,
        ["context"] = BuildSourceKind.Context,
    };

    public static IEndpointRouteBuilder MapBuildsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/builds");
        group.MapPost("", SubmitAsync).DisableAntiforgery();
        group.MapGet("", ListAsync);
        group.MapGet("{id}", GetAsync);
        group.MapGet("{id}/logs", LogsAsync);
        group.MapPost("{id}/retry", RetryAsync);
        group.MapPost("{id}/cancel", CancelAsync);
        endpoints.MapRegistryCredentialsApi();
        return endpoints;
    }

    private static async Task<Results<Created<BuildDto>, JsonHttpResult<BuildDto>, ProblemHttpResult>> SubmitAsync(
        HttpContext context, BuildService builds, IBuildSourceStore sources, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var outcome = await SubmitFormAsync(context, id, builds, sources, cancellationToken);
        if (outcome.Problem is { } problem)
        {
            await sources.DeleteAsync(id, CancellationToken.None);
            return BuildProblems.Problem(problem);
        }
        var dto = BuildDto.From(outcome.Value!);
        return TypedResults.Json(dto, BuildsJsonContext.Default.BuildDto, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<BuildResult<BuildRecord>> SubmitFormAsync(HttpContext context, Guid id, BuildService builds, IBuildSourceStore sources, CancellationToken cancellationToken)
    {
        var form = await BuildForm.ReadAsync(context.Request, id, sources, FileFields, cancellationToken);
        return await SubmitFormAsync(context.User, id, form, builds, cancellationToken);
    }

    /// <summary>Submits a build from a form already read (also the web UI's build form, after its antiforgery check).</summary>
    internal static async Task<BuildResult<BuildRecord>> SubmitFormAsync(ClaimsPrincipal user, Guid id, BuildForm form, BuildService builds, CancellationToken cancellationToken)
    {
        if (form.Error is { } error) return new BuildProblem(BuildProblemKind.Invalid, error);
        if (form.Source is { Succeeded: false } refused) return BuildProblems.FromSource(refused);
        if (form.SourceKind is not { } kind) return new BuildProblem(BuildProblemKind.Invalid, "Send a 'dockerfile' file or a 'context' archive.");
        if (form.Field("image") is not { Length: > 0 } image) return new BuildProblem(BuildProblemKind.Invalid, "The 'image' field is required (namespace/name:tag or a full reference).");
        if (!form.TryGetBuildArgs(out var args, out var argsError)) return new BuildProblem(BuildProblemKind.Invalid, argsError!);
        Guid? credential = null;
        if (form.Field("registry_credential") is { Length: > 0 } credentialText)
        {
            if (!Guid.TryParse(credentialText, out var parsed)) return new BuildProblem(BuildProblemKind.Invalid, "registry_credential must be a credential id.");
            credential = parsed;
        }
        return await builds.SubmitAsync(user, new BuildSubmission
        {
            Id = id,
            SourceKind = kind,
            Image = image.Trim(),
            DockerfilePath = form.Field("dockerfile_path") is { Length: > 0 } path ? path : null,
            BuildArgs = args,
            Target = form.Field("target") is { Length: > 0 } target ? target : null,
            Platform = form.Field("platform") is { Length: > 0 } platform ? platform : null,
            CredentialId = credential,
        }, cancellationToken);
    }

    private static async Task<Results<JsonHttpResult<BuildListDto>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, BuildService builds, string? repository, string? state, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        BuildState? stateFilter = null;
        if (state is { Length: > 0 })
        {
            if (!BuildWords.TryParseState(state, out var parsed))
                return BuildProblems.Problem(BuildProblemKind.Invalid, $"state must be one of: {string.Join(", ", Enum.GetValues<BuildState>().Select(s => s.ToWire()))}.");
            stateFilter = parsed;
        }
        BuildCursor? after = null;
        if (cursor is { Length: > 0 })
        {
            if (!BuildCursor.TryParse(cursor, out var parsed)) return BuildProblems.Problem(BuildProblemKind.Invalid, "cursor is not one this server gave out.");
            after = parsed;
        }
        var size = limit ?? 50;
        if (size is < 1 or > 500) return BuildProblems.Problem(BuildProblemKind.Invalid, "limit must be between 1 and 500.");
        var page = await builds.ListAsync(user, repository is { Length: > 0 } ? repository : null, stateFilter, size + 1, after, cancellationToken);
        var items = page.Take(size).Select(BuildDto.From).ToList();
        var next = page.Count > size ? new BuildCursor(page[size - 1].CreatedAt, page[size - 1].Id).ToString() : null;
        return TypedResults.Json(new BuildListDto(items, next), BuildsJsonContext.Default.BuildListDto);
    }

    private static async Task<Results<JsonHttpResult<BuildDto>, ProblemHttpResult>> GetAsync(
        ClaimsPrincipal user, BuildService builds, string id, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var buildId)) return BuildProblems.Problem(BuildProblemKind.NotFound, $"No build '{id}': build ids are UUIDs.");
        var found = await builds.GetAsync(user, buildId, cancellationToken);
        return found.Value is { } build ? TypedResults.Json(BuildDto.From(build), BuildsJsonContext.Default.BuildDto) : BuildProblems.Problem(found.Problem!);
    }

    private static async Task<Results<JsonHttpResult<BuildDto>, ProblemHttpResult>> RetryAsync(
        ClaimsPrincipal user, BuildService builds, string id, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var buildId)) return BuildProblems.Problem(BuildProblemKind.NotFound, $"No build '{id}': build ids are UUIDs.");
        var result = await builds.RetryAsync(user, buildId, cancellationToken);
        return result.Value is { } build ? TypedResults.Json(BuildDto.From(build), BuildsJsonContext.Default.BuildDto, statusCode: StatusCodes.Status202Accepted) : BuildProblems.Problem(result.Problem!);
    }

    private static async Task<Results<JsonHttpResult<BuildDto>, ProblemHttpResult>> CancelAsync(
        ClaimsPrincipal user, BuildService builds, string id, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var buildId)) return BuildProblems.Problem(BuildProblemKind.NotFound, $"No build '{id}': build ids are UUIDs.");
        var result = await builds.CancelAsync(user, buildId, cancellationToken);
        return result.Value is { } build ? TypedResults.Json(BuildDto.From(build), BuildsJsonContext.Default.BuildDto, statusCode: StatusCodes.Status202Accepted) : BuildProblems.Problem(result.Problem!);
    }

    private static async Task<IResult> LogsAsync(
        HttpContext context, BuildService builds, string id, bool? follow, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var buildId)) return BuildProblems.Problem(BuildProblemKind.NotFound, $"No build '{id}': build ids are UUIDs.");
        var found = await builds.GetAsync(context.User, buildId, cancellationToken);
        if (found.Problem is { } problem) return BuildProblems.Problem(problem);
        var user = context.User;
        if (follow == true)
        {
            long after = 0;
            if (context.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } last)
            {
                _ = long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out after);
            }
            return TypedResults.ServerSentEvents(FollowAsync(builds, context.RequestServices.GetRequiredService<ISignalBus>(), user, buildId, after, cancellationToken));
        }
        return TypedResults.Stream(async body =>
        {
            long sequence = 0;
            while (true)
            {
                var page = await builds.ReadLogAsync(user, buildId, sequence, 2000, cancellationToken);
                if (page.Value is not { Count: > 0 } lines) break;
                var text = new StringBuilder();
                foreach (var line in lines) text.Append(Format(line)).Append('\n');
                await body.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken);
                sequence = lines[^1].Sequence;
            }
        }, "text/plain; charset=utf-8");
    }

    /// <summary>How long a follower waits for a signal before it reads anyway (the fallback when a signal is missed).</summary>
    private static readonly TimeSpan FollowFallback = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Log lines as they are stored (event <c>log</c>, id = sequence), then one <c>end</c> event with the final state.
    /// It reads again when the worker, on whichever node, signals new lines or a new state (<see cref="SignalTopic.BuildChanged"/>).
    /// </summary>
    private static async IAsyncEnumerable<SseItem<string>> FollowAsync(BuildService builds, ISignalBus signals, ClaimsPrincipal user, Guid id, long after,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Subscribed before the first read, so a batch stored between a read and the wait still wakes the next wait.
        using var changed = new SignalWaiter(signals, SignalTopic.BuildChanged, id.ToString("D"));
        while (!cancellationToken.IsCancellationRequested)
        {
            var build = (await builds.GetAsync(user, id, cancellationToken)).Value;
            var finished = build is null || build.State.IsFinished();
            while (true)
            {
                var page = (await builds.ReadLogAsync(user, id, after, 500, cancellationToken)).Value ?? [];
                foreach (var line in page)
                {
                    yield return new SseItem<string>(Format(line), "log") { EventId = line.Sequence.ToString(CultureInfo.InvariantCulture) };
                    after = line.Sequence;
                }
                if (page.Count < 500) break;
            }
            if (finished)
            {
                yield return new SseItem<string>(build?.State.ToWire() ?? "unknown", "end");
                yield break;
            }
            await changed.WaitAsync(FollowFallback, cancellationToken);
        }
    }

    private static string Format(BuildLogLine line) =>
        line.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + " " + line.Text;
}
