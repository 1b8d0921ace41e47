using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Repositories;
using Wharf.Server.Accounts;
using Wharf.Server.Endpoints;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>The start page, search results and a user's or organization's page.</summary>
internal static class BrowsePages
{
    private const int HomeListSize = 10;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/", HomeAsync);
        pages.MapGet("/search", SearchAsync);
        pages.MapGet("/u/{name}", NamespaceAsync);
    }

    private static async Task<IResult> HomeAsync(HttpContext context, RepositoryService repositories, CancellationToken ct)
    {
        var recent = await repositories.RecentlyPushedAsync(context.User, RepositoryVisibility.Public, HomeListSize, ct);
        var popular = (await repositories.SearchAsync(context.User, null, null, RepositoryVisibility.Public, HomeListSize, null, ct)).Value?.Items ?? [];
        return WebUi.Page<HomePage>(PageShell.For(context, "Explore", "explore"), new HomeModel(recent, popular));
    }

    private static async Task<IResult> SearchAsync(HttpContext context, RepositoryService repositories, string? q, string? cursor, CancellationToken ct)
    {
        var query = (q ?? "").Trim();
        var shell = PageShell.For(context, string.IsNullOrEmpty(query) ? "All repositories" : $"Search: {query}", "explore", query);
        if (query.Length > 200) return WebUi.Page<SearchPage>(shell, new SearchModel(query[..200], [], null, true, "Use at most 200 characters."), StatusCodes.Status400BadRequest);
        var result = await repositories.SearchAsync(context.User, query, null, null, null, cursor, ct);
        if (!result.IsOk) return WebUi.Page<SearchPage>(shell, new SearchModel(query, [], null, true, result.Error!.Detail), StatusCodes.Status400BadRequest);
        return WebUi.Page<SearchPage>(shell, new SearchModel(query, result.Value!.Items, result.Value.NextCursor, string.IsNullOrEmpty(cursor), null));
    }

    private static async Task<IResult> NamespaceAsync(HttpContext context, string name, string? cursor, RepositoryService repositories, ICallerAccess callerAccess, CancellationToken ct)
    {
        if (AccountName.Problem(name) is not null) return WebUi.NotFound(context);
        var accounts = context.RequestServices.GetService<AccountService>();
        string? kind = null;
        IReadOnlyList<OrganizationMember>? members = null;
        if (accounts is not null)
        {
            if (await accounts.FindUserAsync(name, ct) is not null)
            {
                kind = "user";
            }
            else
            {
                var org = await accounts.GetOrganizationAsync(AccountsApi.Origin(context), name, ct);
                if (org.IsOk)
                {
                    kind = "organization";
                    members = org.Value!.Members;
                }
                else if (context.RequestServices.GetService<IAccountStore>() is { } store && await store.FindOrganizationAsync(name, ct) is not null)
                {
                    kind = "organization";
                }
            }
        }
        var page = await repositories.ListAsync(context.User, name, null, cursor, ct);
        if (!page.IsOk) return WebUi.NotFound(context);
        if (kind is null && page.Value!.Items.Count == 0 && accounts is not null) return WebUi.NotFound(context, $"There is no user or organization '{name}'.");
        var access = await callerAccess.GetAsync(context.User, ct);
        var canCreate = access.CanWrite(name + "/x");
        return WebUi.Page<NamespacePage>(PageShell.For(context, name, context.User.Username() == name ? "mine" : "explore"),
            new NamespaceModel(name, kind, page.Value!.Items, page.Value.NextCursor, string.IsNullOrEmpty(cursor), members, canCreate));
    }
}
