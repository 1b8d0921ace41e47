using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Accounts;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1</c> users, personal access tokens and organizations (accounts mode only). Handlers translate HTTP to
/// <see cref="AccountService"/> calls; errors are RFC 7807 problems.
/// </summary>
public static class AccountsApi
{
    /// <summary>Maps the accounts surfaces: this API, <see cref="TokenApi"/>, <see cref="AuditApi"/> and <see cref="RepositoryVisibilityApi"/>.</summary>
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<AuthOptions>().Mode != AuthMode.Accounts) return app;
        var api = app.MapGroup("/api/v1");
        api.MapPost("/users", SignUpAsync);
        api.MapGet("/user", GetUserAsync);
        api.MapPut("/user/password", ChangePasswordAsync);
        api.MapPost("/tokens", CreateTokenAsync);
        api.MapGet("/tokens", ListTokensAsync);
        api.MapDelete("/tokens/{id}", RevokeTokenAsync);
        api.MapPost("/orgs", CreateOrganizationAsync);
        api.MapGet("/orgs", ListOrganizationsAsync);
        api.MapGet("/orgs/{org}", GetOrganizationAsync);
        api.MapGet("/orgs/{org}/members", ListMembersAsync);
        api.MapPut("/orgs/{org}/members/{user}", SetMemberAsync);
        api.MapDelete("/orgs/{org}/members/{user}", RemoveMemberAsync);
        app.MapTokenApi();
        app.MapAuditApi();
        // PATCH /api/v1/repositories/… (visibility included) is served by RepositoriesApi, which asks AccountService for visibility changes.
        return app;
    }

    internal static RequestOrigin Origin(HttpContext context) => new(context.User, WharfAuthenticationMiddleware.ClientAddress(context));

    private static async Task<IResult> SignUpAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.SignUpRequest, ct);
        if (problem is not null) return problem;
        var result = await accounts.SignUpAsync(Origin(context), body!.Username, body.Password, body.Email, ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        var user = result.Value!;
        return TypedResults.Json(new UserResponse(user.Name, user.Email, user.IsAdmin, user.CreatedAt, null, null),
            AccountsJsonContext.Default.UserResponse, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> GetUserAsync(HttpContext context, AccountService accounts, RepositoryPermissions permissions, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return ApiIo.Unauthenticated();
        var user = await accounts.FindUserAsync(name, ct);
        if (user is null) return ApiIo.Unauthenticated();
        var orgs = await permissions.GetMembershipsAsync(name, ct);
        return TypedResults.Json(new UserResponse(user.Name, user.Email, user.IsAdmin, user.CreatedAt, context.User.Method(),
            [.. orgs.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => new MembershipResponse(o.Key, AccountText.Format(o.Value)))]),
            AccountsJsonContext.Default.UserResponse);
    }

    private static async Task<IResult> ChangePasswordAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.ChangePasswordRequest, ct);
        if (problem is not null) return problem;
        var result = await accounts.ChangePasswordAsync(Origin(context), body!.CurrentPassword, body.NewPassword, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiIo.Problem(result.Error!);
    }

    private static async Task<IResult> CreateTokenAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.CreateTokenRequest, ct);
        if (problem is not null) return problem;
        var result = await accounts.CreateAccessTokenAsync(Origin(context), body!.Name, body.Scopes, body.ExpiresAt, body.ExpiresInDays, ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        return TypedResults.Json(ApiIo.ToResponse(result.Value!.Token, result.Value.Secret), AccountsJsonContext.Default.TokenResponse, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListTokensAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var result = await accounts.ListAccessTokensAsync(Origin(context), ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        return TypedResults.Json(new TokenListResponse([.. result.Value!.Select(t => ApiIo.ToResponse(t, null))]), AccountsJsonContext.Default.TokenListResponse);
    }

    private static async Task<IResult> RevokeTokenAsync(HttpContext context, string id, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var tokenId))
        {
            return ApiIo.Invalid($"'{id}' is not a token id.", "id");
        }
        var result = await accounts.RevokeAccessTokenAsync(Origin(context), tokenId, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiIo.Problem(result.Error!);
    }

    private static async Task<IResult> CreateOrganizationAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.CreateOrganizationRequest, ct);
        if (problem is not null) return problem;
        var result = await accounts.CreateOrganizationAsync(Origin(context), body!.Name, ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        return TypedResults.Json(ApiIo.ToResponse(result.Value!), AccountsJsonContext.Default.OrganizationResponse, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> GetOrganizationAsync(HttpContext context, string org, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var result = await accounts.GetOrganizationAsync(Origin(context), org, ct);
        return result.IsOk ? TypedResults.Json(ApiIo.ToResponse(result.Value!), AccountsJsonContext.Default.OrganizationResponse) : ApiIo.Problem(result.Error!);
    }

    /// <summary><c>GET /api/v1/orgs</c>: the organizations the caller belongs to, with the caller's role in each, by name.</summary>
    private static async Task<IResult> ListOrganizationsAsync(HttpContext context, RepositoryPermissions permissions, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return ApiIo.Unauthenticated();
        var memberships = await permissions.GetMembershipsAsync(name, ct);
        return TypedResults.Json(new OrganizationListResponse([.. memberships.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => new MembershipResponse(o.Key, AccountText.Format(o.Value)))]),
            AccountsJsonContext.Default.OrganizationListResponse);
    }

    /// <summary><c>GET /api/v1/orgs/{org}/members</c>: its members and their roles, for its members and administrators (others: 404).</summary>
    private static async Task<IResult> ListMembersAsync(HttpContext context, string org, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var result = await accounts.GetOrganizationAsync(Origin(context), org, ct);
        if (!result.IsOk) return ApiIo.Problem(result.Error!);
        var details = ApiIo.ToResponse(result.Value!);
        return TypedResults.Json(new MemberListResponse(details.Name, details.Members), AccountsJsonContext.Default.MemberListResponse);
    }

    private static async Task<IResult> SetMemberAsync(HttpContext context, string org, string user, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var (body, problem) = await ApiIo.ReadAsync(context.Request, AccountsJsonContext.Default.SetMemberRequest, ct);
        if (problem is not null) return problem;
        var result = await accounts.SetMemberAsync(Origin(context), org, user, body!.Role, ct);
        return result.IsOk ? TypedResults.Json(ApiIo.ToResponse(result.Value!), AccountsJsonContext.Default.OrganizationResponse) : ApiIo.Problem(result.Error!);
    }

    private static async Task<IResult> RemoveMemberAsync(HttpContext context, string org, string user, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiIo.Unauthenticated();
        var result = await accounts.RemoveMemberAsync(Origin(context), org, user, ct);
        return result.IsOk ? TypedResults.Json(ApiIo.ToResponse(result.Value!), AccountsJsonContext.Default.OrganizationResponse) : ApiIo.Problem(result.Error!);
    }
}
