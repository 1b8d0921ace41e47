using Wharf.Core.Access;
using System.Globalization;
using Wharf.Core.Accounts;

namespace Wharf.Server.Endpoints;

/// <summary><c>GET /api/v1/audit?limit=&amp;cursor=</c>: the audit log, newest first, for administrators.</summary>
public static class AuditApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").MapGet("/audit", ListAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, IAuditLog audit, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        if (!context.User.IsAdministrating()) return ApiIo.Problem(AccountError.Forbidden("Only administrators read the audit log."));
        var query = context.Request.Query;
        var limit = DefaultLimit;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            return ApiIo.Invalid($"limit is a whole number from 1 to {MaxLimit}.", "limit");
        }
        long? before = null;
        if (query["cursor"].ToString() is { Length: > 0 } cursor)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1) return ApiIo.Invalid("cursor is not one this API returned.", "cursor");
            before = id;
        }
        var events = await audit.ListAsync(before, limit + 1, ct);
        var page = events.Take(limit).ToList();
        var next = events.Count > limit ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Json(new AuditPageResponse(
            [.. page.Select(e => new AuditEventResponse(e.Id, e.At, e.Actor, e.ClientAddress, e.Action, e.Target, e.Success, e.Detail))], next),
            AccountsJsonContext.Default.AuditPageResponse);
    }
}
