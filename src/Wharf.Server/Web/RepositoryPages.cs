using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.References;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Server.Endpoints;
using Wharf.Server.Repositories;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// <c>/r/{repository}</c> (README, pull command, recent tags), <c>…/tags</c> (the tag table: sorted, filtered and
/// paged on the server, every view state in the URL), <c>…/tags/{tag}</c> (layers, labels, ports per platform),
/// <c>…/settings</c>, and <c>/new</c>. A repository the viewer may not pull is a 404 on every one of them.
/// </summary>
internal static class RepositoryPages
{
    private const int OverviewTags = 5;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/r/{**path}", GetAsync);
        pages.MapPost("/r/{**path}", PostAsync);
        pages.MapGet("/new", NewAsync);
        pages.MapPost("/new", CreateAsync);
    }

    /// <summary>A parsed <c>/r/…</c> path: the repository and which of its pages.</summary>
    internal readonly record struct Route(string Repository, string Page, string? Tag);

    internal static Route Parse(string path)
    {
        path = path.Trim('/');
        if (path.EndsWith("/settings", StringComparison.Ordinal) && RepositoryName.IsValid(path[..^9])) return new Route(path[..^9], "settings", null);
        var api = RepositoriesApi.Parse(path);
        return new Route(api.Repository, api.Tag is not null ? "tag" : api.Tags ? "tags" : "overview", api.Tag);
    }

    internal static string SortWord(TagSort sort) => sort switch
    {
        TagSort.Oldest => "oldest",
        TagSort.NameAscending => "name",
        TagSort.NameDescending => "-name",
        _ => "newest",
    };

    private static bool TryParseSort(string? text, out TagSort sort)
    {
        sort = text switch
        {
            null or "" or "newest" => TagSort.Newest,
            "oldest" => TagSort.Oldest,
            "name" => TagSort.NameAscending,
            "-name" => TagSort.NameDescending,
            _ => (TagSort)(-1),
        };
        return Enum.IsDefined(sort);
    }

    /// <summary>The tag table's URL for a view state; defaults are left out so URLs stay short.</summary>
    internal static string TagsUrl(string repository, TagSort sort, string? filter, string? platform, string? cursor)
    {
        var query = new List<string>();
        if (!string.IsNullOrEmpty(filter)) query.Add("filter=" + Uri.EscapeDataString(filter));
        if (!string.IsNullOrEmpty(platform)) query.Add("platform=" + Uri.EscapeDataString(platform));
        if (sort != TagSort.Newest) query.Add("sort=" + Uri.EscapeDataString(SortWord(sort)));
        if (!string.IsNullOrEmpty(cursor)) query.Add("cursor=" + Uri.EscapeDataString(cursor));
        return Format.RepositoryUrl(repository, "tags") + (query.Count == 0 ? "" : "?" + string.Join('&', query));
    }

    private static async Task<IResult> GetAsync(HttpContext context, string path, RepositoryService repositories, CancellationToken ct)
    {
        var route = Parse(path);
        var header = await HeaderAsync(context, repositories, route, ct);
        if (header is null) return WebUi.NotFound(context);
        var shell = PageShell.For(context, route.Repository, "explore");
        var query = context.Request.Query;
        switch (route.Page)
        {
            case "tags":
            {
                if (!TryParseSort(query["sort"], out var sort))
                {
                    return WebUi.Page<TagsPage>(shell, new TagsModel(header, [], TagSort.Newest, null, null, null, null, "sort is newest, oldest, name or -name."), StatusCodes.Status400BadRequest);
                }
                string? filter = query["filter"], platform = query["platform"], cursor = query["cursor"];
                var page = await repositories.QueryTagsAsync(context.User, route.Repository, sort, filter, platform, null, cursor, ct);
                if (!page.IsOk)
                {
                    return WebUi.Page<TagsPage>(shell, new TagsModel(header, [], sort, filter, platform, cursor, null, page.Error!.Detail), StatusCodes.Status400BadRequest);
                }
                var rows = await RowsAsync(context, route.Repository, page.Value!.Items, ct);
                return WebUi.Page<TagsPage>(shell, new TagsModel(header, rows, sort, filter, platform, NullIfEmpty(cursor), page.Value.NextCursor, null));
            }
            case "tag":
            {
                if (!RepositoryName.IsValidTag(route.Tag)) return WebUi.NotFound(context);
                var inspector = context.RequestServices.GetRequiredService<ImageInspector>();
                var inspection = await inspector.InspectAsync(route.Repository, ManifestReference.ForTag(route.Tag), withConfig: true, ct);
                if (inspection is null) return WebUi.NotFound(context, $"{route.Repository} has no tag '{route.Tag}'.");
                string? platform = query["platform"];
                var selected = inspection.Images.FirstOrDefault(i => i.Platform == platform)
                    ?? inspection.Images.FirstOrDefault(i => i.Platform is "linux/amd64")
                    ?? inspection.Images.FirstOrDefault();
                return WebUi.Page<TagDetailPage>(PageShell.For(context, $"{route.Repository}:{route.Tag}", "explore"), new TagModel(header, route.Tag, inspection, selected));
            }
            case "settings":
            {
                if (!header.CanWrite) return WebUi.NotFound(context);
                return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, null, null, null, null, ct));
            }
            default:
            {
                var recent = await repositories.QueryTagsAsync(context.User, route.Repository, TagSort.Newest, null, null, OverviewTags, null, ct);
                var tags = recent.Value?.Items ?? [];
                // The default tag is 'latest' when it exists (one cached lookup, never a scan of the tags), else the newest.
                (string Name, Digest Digest)? defaultTag = null;
                if (tags.FirstOrDefault(t => t.Name == "latest") is { } shown) defaultTag = (shown.Name, shown.Digest);
                else if (tags.Count > 0)
                {
                    var latest = await context.RequestServices.GetRequiredService<RegistryService>().GetManifestAsync(route.Repository, ManifestReference.ForTag("latest"), ct);
                    defaultTag = latest.IsOk ? ("latest", latest.Value!.Digest) : (tags[0].Name, tags[0].Digest);
                }
                var rows = await RowsAsync(context, route.Repository, tags, ct);
                return WebUi.Page<RepositoryOverviewPage>(shell, new RepositoryModel(header, ReadmeRenderer.Render(header.Info.Readme), defaultTag, rows));
            }
        }
    }

    /// <summary>The repository when the viewer may pull it; null (a 404 page) otherwise, so private names do not leak.</summary>
    private static async Task<RepositoryHeader?> HeaderAsync(HttpContext context, RepositoryService repositories, Route route, CancellationToken ct)
    {
        if (!RepositoryName.IsValid(route.Repository)) return null;
        // Tags counted only as far as the pages say ("1,000+ tags"), not all 100,000 of a large repository.
        var found = await repositories.GetAsync(context.User, route.Repository, RepositoryHeader.TagCountShown + 1, ct);
        if (!found.IsOk) return null;
        var access = await context.RequestServices.GetRequiredService<ICallerAccess>().GetAsync(context.User, ct);
        var deletes = context.RequestServices.GetRequiredService<RegistryOptions>().DeleteEnabled;
        return new RepositoryHeader(found.Value!, access.CanWrite(route.Repository), route.Page == "tag" ? "tags" : route.Page, deletes && access.CanDelete(route.Repository));
    }

    /// <summary>Tag rows; a multi-platform tag gets one child row per platform (its digest, size and layers).</summary>
    private static async Task<IReadOnlyList<TagRow>> RowsAsync(HttpContext context, string repository, IReadOnlyList<TagDetails> tags, CancellationToken ct)
    {
        var inspector = context.RequestServices.GetRequiredService<ImageInspector>();
        var rows = new List<TagRow>(tags.Count);
        foreach (var tag in tags)
        {
            IReadOnlyList<ImagePlatform> platforms = [];
            if (Core.MediaTypes.IsIndex(tag.MediaType))
            {
                var inspection = await inspector.InspectAsync(repository, ManifestReference.ForDigest(tag.Digest), withConfig: false, ct);
                platforms = inspection?.Images ?? [];
            }
            rows.Add(new TagRow(tag, platforms));
        }
        return rows;
    }

    private static async Task<RepositorySettingsModel> SettingsModelAsync(HttpContext context, RepositoryHeader header, string? description, string? readme, string? visibility, string? error, CancellationToken ct)
    {
        var info = header.Info;
        var canChangeVisibility = await CanChangeVisibilityAsync(context, info.Name, ct);
        var registryOptions = context.RequestServices.GetRequiredService<RegistryOptions>();
        return new RepositorySettingsModel(header, description ?? info.Description, readme ?? info.Readme, visibility ?? AccountText.Format(info.Visibility),
            canChangeVisibility, registryOptions.DeleteEnabled, error);
    }

    /// <summary>Visibility is the namespace owners' (the user, an organization's owners) or an administrator's.</summary>
    private static async Task<bool> CanChangeVisibilityAsync(HttpContext context, string repository, CancellationToken ct)
    {
        if (context.RequestServices.GetService<AuthOptions>()?.Mode == AuthMode.Open) return true;
        var user = context.User.Username();
        if (user is null) return false;
        if (context.User.IsAdministrating()) return true;
        var ns = AccountName.NamespaceOf(repository);
        if (ns == user) return true;
        var permissions = context.RequestServices.GetRequiredService<RepositoryPermissions>();
        return ns is not null && (await permissions.GetMembershipsAsync(user, ct)).TryGetValue(ns, out var role) && role == OrganizationRole.Owner;
    }

    private static async Task<IResult> PostAsync(HttpContext context, string path, RepositoryService repositories, CancellationToken ct)
    {
        var route = Parse(path);
        if (route.Page == "tag") return await DeleteTagAsync(context, route, repositories, ct);
        if (route.Page != "settings") return WebUi.NotFound(context);
        var header = await HeaderAsync(context, repositories, route, ct);
        if (header is null || !header.CanWrite) return WebUi.NotFound(context);
        var form = await context.Request.ReadFormAsync(ct);
        var repository = route.Repository;
        var shell = PageShell.For(context, repository, "explore");
        if (form["action"] == "delete")
        {
            if (form["confirm"] != repository)
            {
                return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, null, null, null, $"Type {repository} exactly to delete it.", ct), StatusCodes.Status400BadRequest);
            }
            var deleted = await repositories.DeleteAsync(AccountsApi.Origin(context), repository, ct);
            if (!deleted.IsOk)
            {
                return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, null, null, null, deleted.Error!.Detail, ct), StatusCodes.Status400BadRequest);
            }
            // The delete is audited by the event seam (AuditTrail), as every delete is.
            var ns = AccountName.NamespaceOf(repository);
            return WebUi.RedirectWith(context, ns is null ? "/" : $"/u/{Uri.EscapeDataString(ns)}", $"Deleted {repository}.");
        }

        string description = form["description"].ToString(), readme = form["readme"].ToString();
        string? visibility = form["visibility"].ToString() is { Length: > 0 } v ? v : null;
        RepositoryVisibility? parsedVisibility = null;
        if (visibility is not null)
        {
            if (!AccountText.TryParseVisibility(visibility, out var parsed))
            {
                return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, description, readme, null, "Visibility is public or private.", ct), StatusCodes.Status400BadRequest);
            }
            if (parsed != header.Info.Visibility) parsedVisibility = parsed;
        }
        if (parsedVisibility is { } newVisibility && context.RequestServices.GetService<AccountService>() is { } accounts)
        {
            // The accounts module owns visibility: its rules (namespace owners), cache and audit record, as the API does.
            var set = await accounts.SetVisibilityAsync(AccountsApi.Origin(context), repository, AccountText.Format(newVisibility), ct);
            if (!set.IsOk)
            {
                return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, description, readme, visibility, set.Error!.Message, ct), StatusCodes.Status400BadRequest);
            }
            parsedVisibility = null;
        }
        var updated = await repositories.UpdateAsync(AccountsApi.Origin(context), repository, new RepositoryUpdate(description, readme, parsedVisibility), ct);
        if (!updated.IsOk)
        {
            return WebUi.Page<RepositorySettingsPage>(shell, await SettingsModelAsync(context, header, description, readme, visibility, updated.Error!.Detail, ct), StatusCodes.Status400BadRequest);
        }
        return WebUi.RedirectWith(context, Format.RepositoryUrl(repository, "settings"), "Saved.");
    }

    /// <summary>
    /// The tag page's delete form: the tag's name typed again, then the same <see cref="RepositoryService.DeleteTagAsync"/>
    /// as <c>DELETE /api/v1/repositories/{name}/tags/{tag}</c> (permissions, the registry's delete switch, and the event
    /// seam, which audits it as every delete). Only the tag goes; the manifest stays for other tags and digests.
    /// </summary>
    private static async Task<IResult> DeleteTagAsync(HttpContext context, Route route, RepositoryService repositories, CancellationToken ct)
    {
        if (!RepositoryName.IsValidTag(route.Tag)) return WebUi.NotFound(context);
        var header = await HeaderAsync(context, repositories, route, ct);
        if (header is null) return WebUi.NotFound(context);
        var form = await context.Request.ReadFormAsync(ct);
        var tagUrl = Format.RepositoryUrl(route.Repository, "tags/" + Uri.EscapeDataString(route.Tag));
        if (form["action"] != "delete") return WebUi.RedirectWith(context, tagUrl, "That is not an action on tags.", isError: true);
        if (!header.CanDeleteTags) return WebUi.RedirectWith(context, tagUrl, $"You may not delete tags of {route.Repository}.", isError: true);
        if (form["confirm"] != route.Tag) return WebUi.RedirectWith(context, tagUrl + "#delete-tag", $"Type {route.Tag} exactly to delete the tag.", isError: true);
        var deleted = await repositories.DeleteTagAsync(AccountsApi.Origin(context), route.Repository, route.Tag, ct);
        if (!deleted.IsOk)
        {
            return deleted.Error!.Problem == RepositoryProblem.NotFound
                ? WebUi.NotFound(context, $"{route.Repository} has no tag '{route.Tag}'.")
                : WebUi.RedirectWith(context, tagUrl, deleted.Error.Detail, isError: true);
        }
        return WebUi.RedirectWith(context, Format.RepositoryUrl(route.Repository, "tags"), $"Deleted the tag {route.Tag} of {route.Repository}.");
    }

    private static async Task<IResult> NewAsync(HttpContext context, string? @namespace, CancellationToken ct)
    {
        if (!MayCreate(context)) return WebUi.SignInFirst(context);
        var namespaces = await WritableNamespacesAsync(context, ct);
        var visibility = context.RequestServices.GetService<AuthOptions>()?.DefaultVisibility ?? RepositoryVisibility.Private;
        return WebUi.Page<NewRepositoryPage>(PageShell.For(context, "New repository", "new"),
            new NewRepositoryModel(namespaces, @namespace ?? context.User.Username(), null, AccountText.Format(visibility), null, null));
    }

    private static async Task<IResult> CreateAsync(HttpContext context, RepositoryService repositories, CancellationToken ct)
    {
        if (!MayCreate(context)) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        string ns = form["namespace"].ToString().Trim(), name = form["name"].ToString().Trim(), description = form["description"].ToString();
        var visibilityText = form["visibility"].ToString();
        RepositoryVisibility? visibility = AccountText.TryParseVisibility(visibilityText, out var parsed) ? parsed : null;
        var created = await repositories.CreateAsync(AccountsApi.Origin(context), ns, name, visibility, description, null, ct);
        if (!created.IsOk)
        {
            var namespaces = await WritableNamespacesAsync(context, ct);
            return WebUi.Page<NewRepositoryPage>(PageShell.For(context, "New repository", "new"),
                new NewRepositoryModel(namespaces, ns, name, visibilityText is "public" ? "public" : "private", description, created.Error!.Detail), StatusCodes.Status400BadRequest);
        }
        return WebUi.RedirectWith(context, Format.RepositoryUrl(created.Value!.Name), $"Created {created.Value.Name}. Push to it with docker push {context.Request.Host}/{created.Value.Name}:TAG");
    }

    private static bool MayCreate(HttpContext context) =>
        context.User.Username() is not null || context.RequestServices.GetService<AuthOptions>()?.Mode == AuthMode.Open;

    /// <summary>The caller's own namespace and the organizations where they may push (empty in open mode: any name).</summary>
    private static async Task<IReadOnlyList<string>> WritableNamespacesAsync(HttpContext context, CancellationToken ct)
    {
        var access = await context.RequestServices.GetRequiredService<ICallerAccess>().GetAsync(context.User, ct);
        return access.IsAdmin && access.Username is null ? [] : [.. access.WritableNamespaces.Distinct(StringComparer.Ordinal)];
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
