using System.Globalization;
using Wharf.Core.Accounts;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary><c>/admin</c>: for administrators only (a 404 to everyone else): the audit log, newest first.</summary>
internal static class AdminPages
{
    private const int PageSize = 50;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/admin", ShowAsync);
    }

    private static async Task<IResult> ShowAsync(HttpContext context, string? cursor, CancellationToken ct)
    {
        if (context.RequestServices.GetService<IAuditLog>() is not { } audit || context.RequestServices.GetService<AccountService>() is null) return WebUi.NotFound(context);
        if (context.User.Identity?.IsAuthenticated != true) return WebUi.SignInFirst(context);
        if (!context.User.IsAdministrating()) return WebUi.NotFound(context);
        long? before = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1) return WebUi.NotFound(context);
            before = id;
        }
        var events = await audit.ListAsync(before, PageSize + 1, ct);
        var page = events.Take(PageSize).ToList();
        var next = events.Count > PageSize ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return WebUi.Page<AdminPage>(PageShell.For(context, "Administration", "admin"), new AdminModel("audit", page, next, before is null));
    }
}
