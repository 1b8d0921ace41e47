using Microsoft.AspNetCore.Antiforgery;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Server.Endpoints.Builds;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// <c>/builds</c> (filtered by repository and state), <c>/builds/new</c> (a Dockerfile written or uploaded, or a context
/// archive), <c>/builds/{id}</c> (phases, the log followed live by the page's script through the API's server-sent
/// events) and its retry and cancel buttons. The same <see cref="BuildService"/> calls as <c>/api/v1/builds</c>.
/// </summary>
internal static class BuildPages
{
    private const int PageSize = 25;
    private const int LogLines = 5000;

    private static readonly Dictionary<string, BuildSourceKind> FileFields = new(StringComparer.Ordinal)
    {
        ["dockerfile"] = BuildSourceKind.Dockerfile,
        ["context"] = BuildSourceKind.Context,
    };

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/builds", ListAsync);
        pages.MapGet("/builds/new", NewFormAsync);
        pages.MapPost("/builds/new", SubmitAsync).WithMetadata(new WebUi.ValidatesOwnAntiforgery()).DisableAntiforgery();
        pages.MapGet("/builds/{id}", ShowAsync);
        pages.MapPost("/builds/{id}/retry", RetryAsync);
        pages.MapPost("/builds/{id}/cancel", CancelAsync);
    }

    internal static string ListUrl(string? repository, string? state, string? cursor)
    {
        var query = new List<string>();
        if (!string.IsNullOrEmpty(repository)) query.Add("repository=" + Uri.EscapeDataString(repository));
        if (!string.IsNullOrEmpty(state)) query.Add("state=" + Uri.EscapeDataString(state));
        if (!string.IsNullOrEmpty(cursor)) query.Add("cursor=" + Uri.EscapeDataString(cursor));
        return "/builds" + (query.Count == 0 ? "" : "?" + string.Join('&', query));
    }

    /// <summary>In accounts mode builds belong to accounts: an anonymous visitor signs in first.</summary>
    private static bool MustSignIn(HttpContext context) =>
        context.User.Username() is null && context.RequestServices.GetService<AuthOptions>()?.Mode != AuthMode.Open;

    private static async Task<IResult> ListAsync(HttpContext context, BuildService builds, string? repository, string? state, string? cursor, CancellationToken ct)
    {
        if (MustSignIn(context)) return WebUi.SignInFirst(context);
        var shell = PageShell.For(context, "Builds", "builds");
        BuildState? stateFilter = null;
        if (!string.IsNullOrEmpty(state))
        {
            if (!BuildWords.TryParseState(state, out var parsed)) return WebUi.Page<BuildsPage>(shell, new BuildsModel([], repository, null, null, true, "Unknown state."), StatusCodes.Status400BadRequest);
            stateFilter = parsed;
        }
        BuildCursor? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (!BuildCursor.TryParse(cursor, out var parsed)) return WebUi.Page<BuildsPage>(shell, new BuildsModel([], repository, state, null, true, "That page link is not one Wharf made."), StatusCodes.Status400BadRequest);
            after = parsed;
        }
        var repositoryFilter = string.IsNullOrWhiteSpace(repository) ? null : repository.Trim();
        var page = await builds.ListAsync(context.User, repositoryFilter, stateFilter, PageSize + 1, after, ct);
        var items = page.Take(PageSize).ToList();
        var next = page.Count > PageSize ? new BuildCursor(items[^1].CreatedAt, items[^1].Id).ToString() : null;
        return WebUi.Page<BuildsPage>(shell, new BuildsModel(items, repositoryFilter, state, next, after is null, null));
    }

    private static async Task<IResult> ShowAsync(HttpContext context, BuildService builds, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var buildId)) return WebUi.NotFound(context);
        var found = await builds.GetAsync(context.User, buildId, ct);
        if (found.Value is not { } build) return MustSignIn(context) ? WebUi.SignInFirst(context) : WebUi.NotFound(context);
        var log = (await builds.ReadLogAsync(context.User, buildId, 0, LogLines + 1, ct)).Value ?? [];
        var truncated = log.Count > LogLines;
        var finished = build.State.IsFinished();
        return WebUi.Page<BuildPage>(PageShell.For(context, $"Build of {build.Image}", "builds"),
            new BuildModel(build, truncated ? [.. log.Take(LogLines)] : log, truncated, finished && build.State != BuildState.Succeeded, !finished));
    }

    private static async Task<IResult> NewFormAsync(HttpContext context, IRegistryCredentialStore credentials, string? source, string? image, CancellationToken ct)
    {
        if (MustSignIn(context)) return WebUi.SignInFirst(context);
        var list = await credentials.ListAsync(context.User.Username(), ct);
        return WebUi.Page<NewBuildPage>(PageShell.For(context, "New build", "builds"),
            new NewBuildModel(SourceOf(source), image, null, null, null, null, null, list, null));
    }

    private static string SourceOf(string? source) => source is "file" or "context" ? source : "dockerfile";

    /// <summary>
    /// The build form is multipart: its file streams straight into the source store, so the antiforgery token (a
    /// form field) is checked once the form is read, before anything is submitted; a refused form leaves nothing behind.
    /// </summary>
    private static async Task<IResult> SubmitAsync(HttpContext context, BuildService builds, IBuildSourceStore sources, IRegistryCredentialStore credentials, IAntiforgery antiforgery, string? source, CancellationToken ct)
    {
        var id = Guid.NewGuid();
        var form = await BuildForm.ReadAsync(context.Request, id, sources, FileFields, ct);
        context.Request.Headers[WebUi.AntiforgeryHeader] = form.Field(WebUi.AntiforgeryField) ?? "";
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            await sources.DeleteAsync(id, CancellationToken.None);
            return WebUi.FormRefused(context);
        }
        if (MustSignIn(context))
        {
            await sources.DeleteAsync(id, CancellationToken.None);
            return WebUi.SignInFirst(context);
        }
        await form.UseDockerfileTextAsync("dockerfile_text", id, sources, ct);
        var result = await BuildsApi.SubmitFormAsync(context.User, id, form, builds, ct);
        if (result.Problem is { } problem)
        {
            await sources.DeleteAsync(id, CancellationToken.None);
            var list = await credentials.ListAsync(context.User.Username(), ct);
            return WebUi.Page<NewBuildPage>(PageShell.For(context, "New build", "builds"),
                new NewBuildModel(SourceOf(source), form.Field("image"), form.Field("dockerfile_text"), form.Field("build_args"), form.Field("target"), form.Field("platform"),
                    form.Field("dockerfile_path"), list, problem.Message), BuildProblems.StatusCode(problem.Kind));
        }
        return TypedResults.Redirect($"/builds/{result.Value!.Id}");
    }

    private static async Task<IResult> RetryAsync(HttpContext context, BuildService builds, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var buildId)) return WebUi.NotFound(context);
        var result = await builds.RetryAsync(context.User, buildId, ct);
        if (result.Problem is { Kind: BuildProblemKind.NotFound }) return WebUi.NotFound(context);
        return WebUi.RedirectWith(context, $"/builds/{buildId}", result.Problem?.Message ?? "Retrying.", result.Problem is not null);
    }

    private static async Task<IResult> CancelAsync(HttpContext context, BuildService builds, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var buildId)) return WebUi.NotFound(context);
        var result = await builds.CancelAsync(context.User, buildId, ct);
        if (result.Problem is { Kind: BuildProblemKind.NotFound }) return WebUi.NotFound(context);
        return WebUi.RedirectWith(context, $"/builds/{buildId}", result.Problem?.Message ?? "Cancelling.", result.Problem is not null);
    }
}
