using System.Globalization;
using Wharf.Core.Accounts;
using Wharf.Core.Gc;
using Wharf.Core.Policies;
using Wharf.Server.Endpoints;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// <c>/admin</c>: for administrators only (a 404 to everyone else, as in accounts mode only): the users (paged; disable,
/// enable, unlock, make administrator or take that away, delete after a confirmation), the audit log, newest first, and
/// storage and garbage collection (stored bytes, the namespaces using the most, recorded runs; a dry run or a collection).
/// Every change goes through <see cref="UserAdministration"/>, as <c>/api/v1/users</c> does: the same rules and audit records.
/// </summary>
internal static class AdminPages
{
    private const int AuditPageSize = 50;
    private const int UsersPageSize = 50;
    private const int GcRunsShown = 20;
    private const int NamespacesShown = 50;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/admin", ShowAsync);
        pages.MapPost("/admin/users/{username}", ChangeUserAsync);
        pages.MapGet("/admin/users/{username}/delete", ConfirmDeleteAsync);
        pages.MapPost("/admin/gc", CollectAsync);
    }

    /// <summary>Null when the viewer may administrate; otherwise what they get instead (sign in first, or a 404).</summary>
    private static IResult? Refuse(HttpContext context)
    {
        if (context.RequestServices.GetService<UserAdministration>() is null || context.RequestServices.GetService<AccountService>() is null) return WebUi.NotFound(context);
        if (context.User.Identity?.IsAuthenticated != true) return WebUi.SignInFirst(context);
        return context.User.IsAdministrating() ? null : WebUi.NotFound(context);
    }

    private static async Task<IResult> ShowAsync(HttpContext context, string? tab, string? cursor, CancellationToken ct)
    {
        if (Refuse(context) is { } refused) return refused;
        var shell = PageShell.For(context, "Administration", "admin");
        switch (string.IsNullOrEmpty(tab) ? AdminTabs.All[0].Tab : tab)
        {
            case "users":
            {
                if (!string.IsNullOrEmpty(cursor) && AccountName.Problem(cursor) is not null) return WebUi.NotFound(context);
                var listed = await context.RequestServices.GetRequiredService<UserAdministration>()
                    .ListAsync(AccountsApi.Origin(context), NullIfEmpty(cursor), UsersPageSize, ct);
                if (!listed.IsOk) return WebUi.NotFound(context);
                return WebUi.Page<AdminPage>(shell, new AdminModel("users", Users: new AdminUsersModel(listed.Value.Users, NullIfEmpty(cursor), listed.Value.NextCursor)));
            }
            case "audit":
            {
                long? before = null;
                if (!string.IsNullOrEmpty(cursor))
                {
                    if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1) return WebUi.NotFound(context);
                    before = id;
                }
                var events = await context.RequestServices.GetRequiredService<IAuditLog>().ListAsync(before, AuditPageSize + 1, ct);
                var page = events.Take(AuditPageSize).ToList();
                var next = events.Count > AuditPageSize ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
                return WebUi.Page<AdminPage>(shell, new AdminModel("audit", Audit: new AdminAuditModel(page, next, before is null)));
            }
            case "gc":
                return WebUi.Page<AdminPage>(shell, new AdminModel("gc", Gc: await GcModelAsync(context, null, false, ct)));
            default:
                return WebUi.NotFound(context);
        }
    }

    /// <summary>A collection or a dry run from the GC tab (<c>action</c> = <c>collect</c> or <c>dry-run</c>), shown with what it did.</summary>
    private static async Task<IResult> CollectAsync(HttpContext context, CancellationToken ct)
    {
        if (Refuse(context) is { } refused) return refused;
        var form = await context.Request.ReadFormAsync(ct);
        var action = form["action"].ToString();
        if (action is not ("collect" or "dry-run")) return WebUi.RedirectWith(context, "/admin?tab=gc", "That is not a garbage collection action.", isError: true);
        var collector = context.RequestServices.GetRequiredService<GarbageCollector>();
        // As with POST /api/v1/gc: the collection is not the browser's, it finishes (and is recorded) if the page is left.
        var report = await collector.RunAsync(action == "dry-run", "ui", CancellationToken.None);
        var shell = PageShell.For(context, "Administration", "admin");
        return WebUi.Page<AdminPage>(shell, new AdminModel("gc", Gc: await GcModelAsync(context, report, report is null, ct)),
            report is null ? StatusCodes.Status409Conflict : StatusCodes.Status200OK);
    }

    private static async Task<AdminGcModel> GcModelAsync(HttpContext context, GcReport? report, bool busy, CancellationToken ct)
    {
        var policies = context.RequestServices.GetRequiredService<IPolicyStore>();
        var runs = await context.RequestServices.GetRequiredService<IGcStore>().ListRunsAsync(null, GcRunsShown, ct);
        return new AdminGcModel(runs, await policies.GetStorageTotalsAsync(ct), await policies.ListUsageAsync(NamespacesShown, ct), report, busy);
    }

    private static async Task<IResult> ConfirmDeleteAsync(HttpContext context, string username, CancellationToken ct)
    {
        if (Refuse(context) is { } refused) return refused;
        if (await FindAsync(context, username, ct) is not { } user) return WebUi.NotFound(context, $"No user '{username}'.");
        return WebUi.Page<AdminDeleteUserPage>(PageShell.For(context, $"Delete {user.User.Name}", "admin"), new AdminDeleteUserModel(user, null));
    }

    /// <summary>One action on one user (the form's <c>action</c>), then back to the page of the list it was made on.</summary>
    private static async Task<IResult> ChangeUserAsync(HttpContext context, string username, CancellationToken ct)
    {
        if (Refuse(context) is { } refused) return refused;
        var admin = context.RequestServices.GetRequiredService<UserAdministration>();
        var form = await context.Request.ReadFormAsync(ct);
        var origin = AccountsApi.Origin(context);
        var cursor = form["cursor"].ToString();
        var back = "/admin?tab=users" + (string.IsNullOrEmpty(cursor) || AccountName.Problem(cursor) is not null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
        var action = form["action"].ToString();
        if (action == "delete")
        {
            if (await FindAsync(context, username, ct) is not { } user) return WebUi.NotFound(context, $"No user '{username}'.");
            if (form["confirm"] != user.User.Name)
            {
                return WebUi.Page<AdminDeleteUserPage>(PageShell.For(context, $"Delete {user.User.Name}", "admin"),
                    new AdminDeleteUserModel(user, $"Type {user.User.Name} exactly to delete the user."), StatusCodes.Status400BadRequest);
            }
            var deleted = await admin.DeleteAsync(origin, user.User.Name, ct);
            return deleted.IsOk
                ? WebUi.RedirectWith(context, "/admin?tab=users", UserAdministrationApi.DeletionMessage(deleted.Value!))
                : WebUi.RedirectWith(context, back, deleted.Error!.Message, isError: true);
        }
        var (result, done) = action switch
        {
            "disable" => (await admin.SetDisabledAsync(origin, username, true, ct), "disabled"),
            "enable" => (await admin.SetDisabledAsync(origin, username, false, ct), "enabled"),
            "unlock" => (await admin.UnlockAsync(origin, username, ct), "unlocked: their failed sign-ins no longer count"),
            "make-admin" => (await admin.SetAdminAsync(origin, username, true, ct), "is now an administrator"),
            "remove-admin" => (await admin.SetAdminAsync(origin, username, false, ct), "is no longer an administrator; their sessions ended"),
            _ => (default(AccountResult<UserSummary>), null),
        };
        if (done is null) return WebUi.RedirectWith(context, back, "That is not an action on users.", isError: true);
        if (!result.IsOk)
        {
            if (result.Error!.Kind == AccountErrorKind.NotFound) return WebUi.NotFound(context, result.Error.Message);
            return WebUi.RedirectWith(context, back, result.Error.Message, isError: true);
        }
        return WebUi.RedirectWith(context, back, $"{result.Value!.User.Name} {done}.");
    }

    private static async Task<UserSummary?> FindAsync(HttpContext context, string username, CancellationToken ct)
    {
        if (AccountName.Problem(username) is not null) return null;
        var accounts = context.RequestServices.GetRequiredService<AccountService>();
        return await accounts.FindUserAsync(username, ct) is { } user
            ? new UserSummary(user, context.RequestServices.GetRequiredService<LoginRateLimiter>().LockedUsers().Contains(user.Name))
            : null;
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
