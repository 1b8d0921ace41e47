using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary><c>GET /api/v1/audit?limit=&amp;cursor=</c>: the audit log, newest first, for administrators.</summary>
public static class AuditApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").WithTags("Audit").ProducesApiProblems()
            .MapGet("/audit", ListAsync).WithSummary("The audit log, newest first (administrators)");
        return app;
    }

    private static async Task<Results<Ok<AuditPageResponse>, ProblemHttpResult>> ListAsync(HttpContext context, IAuditLog audit, string? limit, string? cursor, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        if (!context.User.IsAdministrating()) return ApiProblems.Forbidden("Only administrators read the audit log.");
        if (!ApiProblems.TryIdPage(limit, cursor, DefaultLimit, MaxLimit, out var size, out var before, out var problem)) return problem!;
        var events = await audit.ListAsync(before, size + 1, ct);
        var page = events.Take(size).ToList();
        var next = events.Count > size ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new AuditPageResponse(
            [.. page.Select(e => new AuditEventResponse(e.Id, e.At, e.Actor, e.ClientAddress, e.Action, e.Target, e.Success, e.Detail))], next));
    }
}
