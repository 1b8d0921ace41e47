using System.Globalization;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1/users</c> for administrators (accounts mode only): <c>GET</c> lists users, <c>PATCH /{username}</c>
/// <c>{"disabled": bool, "is_admin": bool}</c> (either or both) disables or enables one and makes them an administrator or
/// takes that away, <c>POST /{username}/unlock</c> clears their failed-login limits,
/// <c>DELETE /{username}</c> deletes them and says what happens to their namespace's repositories.
/// (<c>POST /api/v1/users</c>, sign-up, is in <see cref="AccountsApi"/>.)
/// </summary>
public static class UserAdministrationApi
{
    public const int DefaultLimit = 100;

    public static IEndpointRouteBuilder MapUserAdministrationApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<AuthOptions>().Mode != AuthMode.Accounts) return app;
        var users = app.MapGroup("/api/v1/users").WithTags("Users").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        users.MapGet("", ListAsync).WithSummary("List users (administrators)");
        users.MapPatch("/{username}", PatchAsync).WithSummary("Disable or enable a user, make them an administrator or take that away (administrators)");
        users.MapPost("/{username}/unlock", UnlockAsync).WithSummary("Clear a user's failed-login limits (administrators)");
        users.MapDelete("/{username}", DeleteAsync).WithSummary("Delete a user; their namespace's repositories are kept (administrators)");
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, UserAdministration admin, string? limit, string? cursor, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var size = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > UserAdministration.MaxPageSize))
        {
            return ApiProblems.Invalid($"limit is a whole number from 1 to {UserAdministration.MaxPageSize}.", "limit");
        }
        if (!string.IsNullOrEmpty(cursor) && AccountName.Problem(cursor) is not null) return ApiProblems.Invalid("cursor is not one this API returned.", "cursor");
        var result = await admin.ListAsync(AccountsApi.Origin(context), cursor, size, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var (page, next) = result.Value;
        return TypedResults.Json(new UserListResponse([.. page.Select(ToResponse)], next), AccountsJsonContext.Default.UserListResponse);
    }

    private static async Task<IResult> PatchAsync(HttpContext context, string username, UserAdministration admin, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.PatchUserRequest);
        if (problem is not null) return problem;
        if (body!.Disabled is null && body.IsAdmin is null) return ApiProblems.Invalid("Give \"disabled\" or \"is_admin\" (or both): true or false.", "disabled");
        var origin = AccountsApi.Origin(context);
        var result = body.IsAdmin is { } isAdmin ? await admin.SetAdminAsync(origin, username, isAdmin, ct) : default;
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        if (body.Disabled is { } disabled) result = await admin.SetDisabledAsync(origin, username, disabled, ct);
        return result.IsOk ? TypedResults.Json(ToResponse(result.Value!), AccountsJsonContext.Default.AdminUserResponse) : ApiProblems.From(result.Error!);
    }

    private static async Task<IResult> UnlockAsync(HttpContext context, string username, UserAdministration admin, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var result = await admin.UnlockAsync(AccountsApi.Origin(context), username, ct);
        return result.IsOk ? TypedResults.Json(ToResponse(result.Value!), AccountsJsonContext.Default.AdminUserResponse) : ApiProblems.From(result.Error!);
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, string username, UserAdministration admin, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var result = await admin.DeleteAsync(AccountsApi.Origin(context), username, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var deleted = result.Value!;
        return TypedResults.Json(new UserDeletionResponse(deleted.Username, deleted.RepositoriesKept, [.. deleted.OrganizationsWithoutOwner], DeletionMessage(deleted)),
            AccountsJsonContext.Default.UserDeletionResponse);
    }

    /// <summary>What deleting a user did, in words (the API's <c>message</c>, the web UI's notice).</summary>
    public static string DeletionMessage(UserDeletion deleted) => deleted.RepositoriesKept == 0
        ? $"Deleted '{deleted.Username}'. The name stays taken; an administrator can create an organization '{deleted.Username}'."
        : $"Deleted '{deleted.Username}'. {deleted.RepositoriesKept} repositories in '{deleted.Username}/' are kept, reachable by administrators only, " +
          $"and the name stays taken so that nobody can sign up into them: create an organization '{deleted.Username}' to hand them over, or delete them.";

    private static AdminUserResponse ToResponse(UserSummary summary) =>
        new(summary.User.Name, summary.User.Email, summary.User.IsAdmin, summary.User.IsDisabled, summary.User.DisabledAt, summary.Locked, summary.User.CreatedAt);
}
