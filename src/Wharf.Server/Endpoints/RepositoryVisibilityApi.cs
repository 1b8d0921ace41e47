using Wharf.Core.Access;
using Wharf.Core.Accounts;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>PATCH /api/v1/repositories/{namespace}/{name}</c> with <c>{"visibility":"public|private"}</c>. The repositories
/// API proper (create, describe, delete) is a separate surface; this handler only changes visibility.
/// </summary>
public static class RepositoryVisibilityApi
{
    public static IEndpointRouteBuilder MapRepositoryVisibilityApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").MapPatch("/repositories/{namespace}/{**name}", PatchAsync);
        return app;
    }

    private static async Task<IResult> PatchAsync(HttpContext context, string @namespace, string name, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.PatchRepositoryRequest, ct);
        if (problem is not null) return problem;
        if (body!.Visibility is null) return ApiIo.Invalid("Nothing to change: give visibility.", "visibility");
        var repository = $"{@namespace}/{name}";
        var result = await accounts.SetVisibilityAsync(AccountsApi.Origin(context), repository, body.Visibility, ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        return TypedResults.Json(new RepositoryVisibilityResponse(@namespace, name, repository, AccountText.Format(result.Value)), AccountsJsonContext.Default.RepositoryVisibilityResponse);
    }
}
