using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Gc;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

public sealed record StartGcRequest(bool? DryRun);
public sealed record GcRunResponse(long Id, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, long? DurationMs, bool DryRun, string Trigger,
    long BlobsDeleted, long BytesFreed, long ManifestsDeleted, long UploadsExpired, long TagsDeleted, string? Error);
public sealed record GcManifestResponse(string Repository, string Digest);
public sealed record GcTagResponse(string Repository, string Tag, string Digest);
/// <summary>
/// A finished collection; <see cref="Manifests"/> lists the manifests it deleted and <see cref="Tags"/> the tags retention
/// deleted (a dry run: what it would delete), at most 1,000 each.
/// </summary>
public sealed record GcReportResponse(GcRunResponse Run, List<GcManifestResponse> Manifests, List<GcTagResponse> Tags);
public sealed record GcRunListResponse(List<GcRunResponse> Runs, string? NextCursor);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(StartGcRequest))]
[JsonSerializable(typeof(GcReportResponse))]
[JsonSerializable(typeof(GcRunListResponse))]
public sealed partial class GcJson : JsonSerializerContext;

/// <summary>
/// <c>POST /api/v1/gc</c> <c>{"dry_run": bool}</c> runs a collection now and answers with what it did (409 while another
/// collector runs); <c>GET /api/v1/gc/runs?limit=&amp;cursor=</c> lists recorded runs, newest first. Administrators only.
/// </summary>
public static class GcApi
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapGcApi(this IEndpointRouteBuilder app)
    {
        var gc = app.MapGroup("/api/v1/gc").WithTags("Garbage collection").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        gc.MapPost("", StartAsync).WithSummary("Run a garbage collection now, or a dry run (administrators)");
        gc.MapGet("/runs", ListRunsAsync).WithSummary("Recorded garbage collections, newest first (administrators)");
        return app;
    }

    private static async Task<Results<Ok<GcReportResponse>, ProblemHttpResult>> StartAsync(HttpContext context, GarbageCollector collector, CancellationToken ct)
    {
        if (Refusal(context) is { } refused) return refused;
        var dryRun = false;
        if (context.Request.ContentLength is not 0 && (context.Request.ContentLength is not null || context.Request.ContentType is not null))
        {
            var (body, problem) = await ApiBody.ReadJsonAsync(context, GcJson.Default.StartGcRequest);
            if (problem is not null) return problem;
            dryRun = body!.DryRun ?? false;
        }
        // The collection is not the client's: it finishes (and is recorded) even when the caller hangs up.
        var report = await collector.RunAsync(dryRun, "api", context.RequestAborted.IsCancellationRequested ? ct : CancellationToken.None);
        if (report is null) return ApiProblems.Conflict("A garbage collection is already running; try again when it has finished.");
        return TypedResults.Ok(new GcReportResponse(ToResponse(report.Run),
            [.. report.Manifests.Select(m => new GcManifestResponse(m.Repository, m.Digest.ToString()))],
            [.. report.Tags.Select(t => new GcTagResponse(t.Repository, t.Tag, t.Digest.ToString()))]));
    }

    private static async Task<Results<Ok<GcRunListResponse>, ProblemHttpResult>> ListRunsAsync(HttpContext context, IGcStore store, string? limit, string? cursor, CancellationToken ct)
    {
        if (Refusal(context) is { } refused) return refused;
        if (!ApiProblems.TryIdPage(limit, cursor, DefaultLimit, MaxLimit, out var size, out var before, out var problem)) return problem!;
        var runs = await store.ListRunsAsync(before, size + 1, ct);
        var page = runs.Take(size).ToList();
        var next = runs.Count > size ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new GcRunListResponse([.. page.Select(ToResponse)], next));
    }

    /// <summary>Garbage collection is an administrator's (with accounts); in open mode everyone may.</summary>
    private static ProblemHttpResult? Refusal(HttpContext context)
    {
        if (context.RequestServices.GetRequiredService<AuthOptions>().Mode == AuthMode.Open) return null;
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        return context.User.IsAdministrating() ? null : ApiProblems.Forbidden("Only administrators run and read garbage collections.");
    }

    public static GcRunResponse ToResponse(GcRun run) => new(
        run.Id, run.StartedAt, run.FinishedAt, run.Duration is { } d ? (long)d.TotalMilliseconds : null, run.DryRun, run.Trigger,
        run.BlobsDeleted, run.BytesFreed, run.ManifestsDeleted, run.UploadsExpired, run.TagsDeleted, run.Error);
}
