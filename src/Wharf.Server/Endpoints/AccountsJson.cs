using System.Text.Json;
using System.Text.Json.Serialization;
using Wharf.Core.Accounts;

namespace Wharf.Server.Endpoints;

public sealed record SignUpRequest(string? Username, string? Password, string? Email);
public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);
public sealed record CreateTokenRequest(string? Name, List<string?>? Scopes, DateTimeOffset? ExpiresAt, int? ExpiresInDays);
public sealed record CreateOrganizationRequest(string? Name);
public sealed record SetMemberRequest(string? Role);

public sealed record MembershipResponse(string Name, string Role);
public sealed record UserResponse(string Username, string? Email, bool IsAdmin, DateTimeOffset CreatedAt, string? AuthMethod, List<MembershipResponse>? Organizations);
/// <summary>A personal access token; <see cref="Token"/>, the secret, is present only in the answer that created it.</summary>
public sealed record TokenResponse(long Id, string Name, string Prefix, List<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Token);
public sealed record TokenListResponse(List<TokenResponse> Tokens);
public sealed record MemberResponse(string Username, string Role, DateTimeOffset AddedAt);
public sealed record OrganizationResponse(string Name, DateTimeOffset CreatedAt, List<MemberResponse> Members);
public sealed record OrganizationListResponse(List<MembershipResponse> Organizations);
public sealed record MemberListResponse(string Organization, List<MemberResponse> Members);
public sealed record RepositoryVisibilityResponse(string Namespace, string Name, string Repository, string Visibility);
public sealed record AuditEventResponse(long Id, DateTimeOffset At, string? Actor, string? ClientAddress, string Action, string? Target, bool Success, string? Detail);
public sealed record AuditPageResponse(List<AuditEventResponse> Events, string? NextCursor);
/// <summary>The token endpoint's answer; <c>refresh_token</c> and <c>scope</c> are left out when there are none.</summary>
public sealed record RegistryTokenResponse(string Token, string AccessToken, int ExpiresIn, DateTimeOffset IssuedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefreshToken,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Scope);
public sealed record SessionResponse(long Id, string ClientId, string? ClientAddress, List<string> Scopes, string Credential, long? TokenId, string? TokenName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? LastUsedAt, bool Current);
public sealed record SessionListResponse(List<SessionResponse> Sessions);
public sealed record PatchUserRequest(bool? Disabled, bool? IsAdmin);
public sealed record AdminUserResponse(string Username, string? Email, bool IsAdmin, bool Disabled, DateTimeOffset? DisabledAt, bool Locked, DateTimeOffset CreatedAt);
public sealed record UserListResponse(List<AdminUserResponse> Users, string? NextCursor);
public sealed record UserDeletionResponse(string Username, long RepositoriesKept, List<string> OrganizationsWithoutOwner, string Message);

/// <summary>Source-generated JSON for the accounts surfaces, with the options every <c>/api</c> context shares (see <c>ApiPipeline.ConfigureJson</c>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(SignUpRequest))]
[JsonSerializable(typeof(ChangePasswordRequest))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(CreateOrganizationRequest))]
[JsonSerializable(typeof(SetMemberRequest))]
[JsonSerializable(typeof(UserResponse))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(TokenListResponse))]
[JsonSerializable(typeof(OrganizationResponse))]
[JsonSerializable(typeof(OrganizationListResponse))]
[JsonSerializable(typeof(MemberListResponse))]
[JsonSerializable(typeof(RepositoryVisibilityResponse))]
[JsonSerializable(typeof(AuditPageResponse))]
[JsonSerializable(typeof(RegistryTokenResponse))]
[JsonSerializable(typeof(SessionListResponse))]
[JsonSerializable(typeof(PatchUserRequest))]
[JsonSerializable(typeof(AdminUserResponse))]
[JsonSerializable(typeof(UserListResponse))]
[JsonSerializable(typeof(UserDeletionResponse))]
public sealed partial class AccountsJsonContext : JsonSerializerContext;

/// <summary>Accounts records as <c>/api/v1</c> shows them.</summary>
public static class AccountResponses
{
    public static TokenResponse Token(AccessTokenInfo token, string? secret) =>
        new(token.Id, token.Name, token.Prefix, [.. AccountText.Format(token.Scopes)], token.CreatedAt, token.ExpiresAt, token.LastUsedAt, secret);

    public static OrganizationResponse Organization(OrganizationDetails details) =>
        new(details.Organization.Name, details.Organization.CreatedAt,
            [.. details.Members.Select(m => new MemberResponse(m.Username, AccountText.Format(m.Role), m.AddedAt))]);
}
