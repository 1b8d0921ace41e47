using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Accounts;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1</c> users, personal access tokens and organizations (accounts mode only). Handlers translate HTTP to
/// <see cref="AccountService"/> calls; errors are RFC 7807 problems from <see cref="ApiProblems"/>.
/// </summary>
public static class AccountsApi
{
    /// <summary>Maps the accounts surfaces: this API, <see cref="TokenApi"/> and <see cref="AuditApi"/>.</summary>
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<AuthOptions>().Mode != AuthMode.Accounts) return app;
        var api = app.MapGroup("/api/v1").WithTags("Accounts").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        api.MapPost("/users", SignUpAsync).AllowAnonymous().WithSummary("Sign up (anonymous; the first user is the administrator)");
        api.MapGet("/user", GetUserAsync).WithSummary("The signed-in user, with their organizations");
        api.MapPut("/user/password", ChangePasswordAsync).WithSummary("Change the password (revokes refresh tokens)");
        api.MapPost("/tokens", CreateTokenAsync).WithSummary("Create a personal access token (its secret is shown once)");
        api.MapGet("/tokens", ListTokensAsync).WithSummary("List your personal access tokens");
        api.MapDelete("/tokens/{id}", RevokeTokenAsync).WithSummary("Revoke a personal access token (and the sessions made with it)");
        api.MapGet("/sessions", ListSessionsAsync).WithSummary("List your sessions (refresh tokens: docker login, wharf login)");
        api.MapDelete("/sessions/{id}", RevokeSessionAsync).WithSummary("Revoke a session ('current': the one this request uses)");
        api.MapPost("/orgs", CreateOrganizationAsync).WithSummary("Create an organization (you become its owner)");
        api.MapGet("/orgs", ListOrganizationsAsync).WithSummary("The organizations you belong to, with your role");
        api.MapGet("/orgs/{org}", GetOrganizationAsync).WithSummary("An organization and its members");
        api.MapGet("/orgs/{org}/members", ListMembersAsync).WithSummary("An organization's members and their roles (members and administrators)");
        api.MapPut("/orgs/{org}/members/{user}", SetMemberAsync).WithSummary("Add a member or change their role");
        api.MapDelete("/orgs/{org}/members/{user}", RemoveMemberAsync).WithSummary("Remove a member");
        app.MapTokenApi();
        app.MapAuditApi();
        // PATCH /api/v1/repositories/… (visibility included) is served by RepositoriesApi, which asks AccountService for visibility changes.
        return app;
    }

    internal static RequestOrigin Origin(HttpContext context) => new(context.User, WharfAuthenticationMiddleware.ClientAddress(context));

    private static async Task<Results<Created<UserResponse>, ProblemHttpResult>> SignUpAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.SignUpRequest);
        if (problem is not null) return problem;
        var result = await accounts.SignUpAsync(Origin(context), body!.Username, body.Password, body.Email, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var user = result.Value!;
        return TypedResults.Created("/api/v1/user", new UserResponse(user.Name, user.Email, user.IsAdmin, user.CreatedAt, null, null));
    }

    private static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> GetUserAsync(HttpContext context, AccountService accounts, RepositoryPermissions permissions, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return ApiProblems.Unauthenticated();
        var user = await accounts.FindUserAsync(name, ct);
        if (user is null) return ApiProblems.Unauthenticated();
        var orgs = await permissions.GetMembershipsAsync(name, ct);
        return TypedResults.Ok(new UserResponse(user.Name, user.Email, user.IsAdmin, user.CreatedAt, context.User.Method(),
            [.. orgs.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => new MembershipResponse(o.Key, AccountText.Format(o.Value)))]));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangePasswordAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.ChangePasswordRequest);
        if (problem is not null) return problem;
        var result = await accounts.ChangePasswordAsync(Origin(context), body!.CurrentPassword, body.NewPassword, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<Created<TokenResponse>, ProblemHttpResult>> CreateTokenAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.CreateTokenRequest);
        if (problem is not null) return problem;
        var result = await accounts.CreateAccessTokenAsync(Origin(context), body!.Name, body.Scopes, body.ExpiresAt, body.ExpiresInDays, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        return TypedResults.Created($"/api/v1/tokens/{result.Value!.Token.Id}", AccountResponses.Token(result.Value.Token, result.Value.Secret));
    }

    private static async Task<Results<Ok<TokenListResponse>, ProblemHttpResult>> ListTokensAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var result = await accounts.ListAccessTokensAsync(Origin(context), ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        return TypedResults.Ok(new TokenListResponse([.. result.Value!.Select(t => AccountResponses.Token(t, null))]));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeTokenAsync(HttpContext context, string id, AccountService accounts, CancellationToken ct)
    {
        if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var tokenId))
        {
            return ApiProblems.Invalid($"'{id}' is not a token id.", "id");
        }
        var result = await accounts.RevokeAccessTokenAsync(Origin(context), tokenId, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiProblems.From(result.Error!);
    }

    private static async Task<IResult> ListSessionsAsync(HttpContext context, SessionService sessions, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var result = await sessions.ListAsync(Origin(context), ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var current = context.User.Method() == Caller.RefreshToken ? context.User.SessionId() : null;
        return TypedResults.Json(new SessionListResponse([.. result.Value!.Select(s => new SessionResponse(
            s.Id, s.ClientId, s.ClientAddress, [.. AccountText.Format(s.Scopes)], s.AccessTokenId is null ? "password" : "token", s.AccessTokenId, s.AccessTokenName,
            s.CreatedAt, s.ExpiresAt, s.LastUsedAt, s.Id == current))]), AccountsJsonContext.Default.SessionListResponse);
    }

    /// <summary><c>DELETE /api/v1/sessions/{id}</c>; <c>current</c> names the session the request itself uses (log out).</summary>
    private static async Task<IResult> RevokeSessionAsync(HttpContext context, string id, SessionService sessions, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        long? sessionId = null;
        if (id != "current")
        {
            if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                return ApiProblems.Invalid($"'{id}' is not a session id (or 'current').", "id");
            }
            sessionId = parsed;
        }
        var result = await sessions.RevokeAsync(Origin(context), sessionId, ct);
        return result.IsOk ? TypedResults.NoContent() : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<Created<OrganizationResponse>, ProblemHttpResult>> CreateOrganizationAsync(HttpContext context, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.CreateOrganizationRequest);
        if (problem is not null) return problem;
        var result = await accounts.CreateOrganizationAsync(Origin(context), body!.Name, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        return TypedResults.Created($"/api/v1/orgs/{result.Value!.Organization.Name}", AccountResponses.Organization(result.Value));
    }

    private static async Task<Results<Ok<OrganizationResponse>, ProblemHttpResult>> GetOrganizationAsync(HttpContext context, string org, AccountService accounts, CancellationToken ct)
    {
        var result = await accounts.GetOrganizationAsync(Origin(context), org, ct);
        return result.IsOk ? TypedResults.Ok(AccountResponses.Organization(result.Value!)) : ApiProblems.From(result.Error!);
    }

    /// <summary><c>GET /api/v1/orgs</c>: the organizations the caller belongs to, with the caller's role in each, by name.</summary>
    private static async Task<IResult> ListOrganizationsAsync(HttpContext context, RepositoryPermissions permissions, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return ApiProblems.Unauthenticated();
        var memberships = await permissions.GetMembershipsAsync(name, ct);
        return TypedResults.Json(new OrganizationListResponse([.. memberships.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => new MembershipResponse(o.Key, AccountText.Format(o.Value)))]),
            AccountsJsonContext.Default.OrganizationListResponse);
    }

    /// <summary><c>GET /api/v1/orgs/{org}/members</c>: its members and their roles, for its members and administrators (others: 404).</summary>
    private static async Task<IResult> ListMembersAsync(HttpContext context, string org, AccountService accounts, CancellationToken ct)
    {
        if (context.User.Username() is null) return ApiProblems.Unauthenticated();
        var result = await accounts.GetOrganizationAsync(Origin(context), org, ct);
        if (!result.IsOk) return ApiProblems.From(result.Error!);
        var details = AccountResponses.Organization(result.Value!);
        return TypedResults.Json(new MemberListResponse(details.Name, details.Members), AccountsJsonContext.Default.MemberListResponse);
    }

    private static async Task<Results<Ok<OrganizationResponse>, ProblemHttpResult>> SetMemberAsync(HttpContext context, string org, string user, AccountService accounts, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, AccountsJsonContext.Default.SetMemberRequest);
        if (problem is not null) return problem;
        var result = await accounts.SetMemberAsync(Origin(context), org, user, body!.Role, ct);
        return result.IsOk ? TypedResults.Ok(AccountResponses.Organization(result.Value!)) : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<Ok<OrganizationResponse>, ProblemHttpResult>> RemoveMemberAsync(HttpContext context, string org, string user, AccountService accounts, CancellationToken ct)
    {
        var result = await accounts.RemoveMemberAsync(Origin(context), org, user, ct);
        return result.IsOk ? TypedResults.Ok(AccountResponses.Organization(result.Value!)) : ApiProblems.From(result.Error!);
    }
}
