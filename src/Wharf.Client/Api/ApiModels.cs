using System.Text.Json.Serialization;

namespace Wharf.Client.Api;

// The accounts contract of DESIGN.md §3 (snake_case JSON).

public sealed class SignUpRequest
{
    [JsonPropertyName("username")] public required string Username { get; set; }
    [JsonPropertyName("password")] public required string Password { get; set; }
    [JsonPropertyName("email")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Email { get; set; }
}

public sealed class UserInfo
{
    [JsonPropertyName("id")] public object? Id { get; set; }
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("email")] public string? Email { get; set; }
    [JsonPropertyName("is_admin")] public bool? IsAdmin { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
}

public sealed class CreateTokenRequest
{
    [JsonPropertyName("name")] public required string Name { get; set; }
    [JsonPropertyName("scopes")] public required List<string> Scopes { get; set; }
    [JsonPropertyName("expires_at")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpiresAt { get; set; }
}

public sealed class AccessTokenInfo
{
    [JsonPropertyName("id")] public object? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("token")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Token { get; set; }
    [JsonPropertyName("scopes")] public List<string>? Scopes { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
    [JsonPropertyName("expires_at")] public DateTimeOffset? ExpiresAt { get; set; }
    [JsonPropertyName("last_used_at")] public DateTimeOffset? LastUsedAt { get; set; }
}

/// <summary>A list answer: either a bare array or <c>{"items": [...], "next_cursor": …}</c>.</summary>
public sealed class TokenPage
{
    [JsonPropertyName("items")] public List<AccessTokenInfo>? Items { get; set; }
    [JsonPropertyName("tokens")] public List<AccessTokenInfo>? Tokens { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

/// <summary>A session: a refresh token (docker login's identity token) with the credential that made it.</summary>
public sealed class SessionInfo
{
    [JsonPropertyName("id")] public long Id { get; set; }
    [JsonPropertyName("client_id")] public string? ClientId { get; set; }
    [JsonPropertyName("client_address")] public string? ClientAddress { get; set; }
    [JsonPropertyName("scopes")] public List<string>? Scopes { get; set; }
    [JsonPropertyName("credential")] public string? Credential { get; set; }
    [JsonPropertyName("token_id")] public long? TokenId { get; set; }
    [JsonPropertyName("token_name")] public string? TokenName { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
    [JsonPropertyName("expires_at")] public DateTimeOffset? ExpiresAt { get; set; }
    [JsonPropertyName("last_used_at")] public DateTimeOffset? LastUsedAt { get; set; }
    [JsonPropertyName("current")] public bool Current { get; set; }
}

public sealed class SessionPage
{
    [JsonPropertyName("sessions")] public List<SessionInfo>? Sessions { get; set; }
}

/// <summary>A user as administrators see them (<c>GET /api/v1/users</c>).</summary>
public sealed class AdminUserInfo
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("email")] public string? Email { get; set; }
    [JsonPropertyName("is_admin")] public bool IsAdmin { get; set; }
    [JsonPropertyName("disabled")] public bool Disabled { get; set; }
    [JsonPropertyName("disabled_at")] public DateTimeOffset? DisabledAt { get; set; }
    [JsonPropertyName("locked")] public bool Locked { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
}

public sealed class UserPage
{
    [JsonPropertyName("users")] public List<AdminUserInfo>? Users { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

public sealed class PatchUserRequest
{
    [JsonPropertyName("disabled")] public bool Disabled { get; set; }
}

/// <summary>What deleting a user did (<c>DELETE /api/v1/users/{name}</c>).</summary>
public sealed class UserDeletionInfo
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("repositories_kept")] public long RepositoriesKept { get; set; }
    [JsonPropertyName("organizations_without_owner")] public List<string>? OrganizationsWithoutOwner { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

public sealed class CreateRepositoryRequest
{
    [JsonPropertyName("namespace")] public required string Namespace { get; set; }
    [JsonPropertyName("name")] public required string Name { get; set; }
    [JsonPropertyName("visibility")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Visibility { get; set; }
    [JsonPropertyName("description")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Description { get; set; }
    [JsonPropertyName("readme")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Readme { get; set; }
}

/// <summary>A repository as <c>/api/v1/repositories</c> and <c>/api/v1/search</c> describe it (search leaves out the counters it does not rank by).</summary>
public sealed class RepositoryInfo
{
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("full_name")] public string? FullName { get; set; }
    [JsonPropertyName("visibility")] public string? Visibility { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("readme")] public string? Readme { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
    [JsonPropertyName("updated_at")] public DateTimeOffset? UpdatedAt { get; set; }
    [JsonPropertyName("pull_count")] public long? PullCount { get; set; }
    [JsonPropertyName("push_count")] public long? PushCount { get; set; }
    [JsonPropertyName("tag_count")] public long? TagCount { get; set; }
    [JsonPropertyName("last_pushed_at")] public DateTimeOffset? LastPushedAt { get; set; }
    [JsonPropertyName("last_pulled_at")] public DateTimeOffset? LastPulledAt { get; set; }

    /// <summary><c>namespace/name</c>, from <c>full_name</c> or its parts.</summary>
    [JsonIgnore] public string DisplayName => FullName ?? (string.IsNullOrEmpty(Namespace) ? Name ?? "" : $"{Namespace}/{Name}");
}

/// <summary>One page of <c>GET /api/v1/search</c>.</summary>
public sealed class SearchPage
{
    [JsonPropertyName("query")] public string? Query { get; set; }
    [JsonPropertyName("results")] public List<RepositoryInfo>? Results { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

/// <summary>One page of <c>GET /api/v1/repositories</c>.</summary>
public sealed class RepositoryPage
{
    [JsonPropertyName("repositories")] public List<RepositoryInfo>? Repositories { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

/// <summary><c>PATCH /api/v1/repositories/{name}</c>: null members stay as they are.</summary>
public sealed class UpdateRepositoryRequest
{
    [JsonPropertyName("visibility")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Visibility { get; set; }
    [JsonPropertyName("description")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Description { get; set; }
    [JsonPropertyName("readme")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Readme { get; set; }
}

public sealed class CreateOrganizationRequest
{
    [JsonPropertyName("name")] public required string Name { get; set; }
}

public sealed class SetMemberRequest
{
    [JsonPropertyName("role")] public required string Role { get; set; }
}

public sealed class MemberInfo
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("added_at")] public DateTimeOffset? AddedAt { get; set; }
}

/// <summary>An organization with its members (<c>POST /api/v1/orgs</c>, member changes).</summary>
public sealed class OrganizationInfo
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
    [JsonPropertyName("members")] public List<MemberInfo>? Members { get; set; }
}

/// <summary>An organization the caller belongs to, with the caller's role.</summary>
public sealed class MembershipInfo
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("role")] public string? Role { get; set; }
}

public sealed class OrganizationList
{
    [JsonPropertyName("organizations")] public List<MembershipInfo>? Organizations { get; set; }
}

public sealed class MemberList
{
    [JsonPropertyName("organization")] public string? Organization { get; set; }
    [JsonPropertyName("members")] public List<MemberInfo>? Members { get; set; }
}

public sealed class ChangePasswordRequest
{
    [JsonPropertyName("current_password")] public required string CurrentPassword { get; set; }
    [JsonPropertyName("new_password")] public required string NewPassword { get; set; }
}

/// <summary>A stored registry credential: never its secret.</summary>
public sealed class RegistryCredentialInfo
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("host")] public string? Host { get; set; }
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
}

public sealed class RegistryCredentialList
{
    [JsonPropertyName("credentials")] public List<RegistryCredentialInfo>? Credentials { get; set; }
}

public sealed class CreateRegistryCredentialRequest
{
    [JsonPropertyName("host")] public required string Host { get; set; }
    [JsonPropertyName("username")] public required string Username { get; set; }
    [JsonPropertyName("secret")] public required string Secret { get; set; }
}

public sealed class AuditEvent
{
    [JsonPropertyName("id")] public long Id { get; set; }
    [JsonPropertyName("at")] public DateTimeOffset? At { get; set; }
    [JsonPropertyName("actor")] public string? Actor { get; set; }
    [JsonPropertyName("client_address")] public string? ClientAddress { get; set; }
    [JsonPropertyName("action")] public string? Action { get; set; }
    [JsonPropertyName("target")] public string? Target { get; set; }
    [JsonPropertyName("success")] public bool? Success { get; set; }
    [JsonPropertyName("detail")] public string? Detail { get; set; }
}

public sealed class AuditPage
{
    [JsonPropertyName("events")] public List<AuditEvent>? Events { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

public sealed class ProblemDetails
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("title")] public string? Title { get; set; }
    [JsonPropertyName("status")] public int? Status { get; set; }
    [JsonPropertyName("detail")] public string? Detail { get; set; }
}

[JsonSerializable(typeof(SignUpRequest))]
[JsonSerializable(typeof(UserInfo))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(AccessTokenInfo))]
[JsonSerializable(typeof(List<AccessTokenInfo>))]
[JsonSerializable(typeof(TokenPage))]
[JsonSerializable(typeof(SessionPage))]
[JsonSerializable(typeof(UserPage))]
[JsonSerializable(typeof(AdminUserInfo))]
[JsonSerializable(typeof(PatchUserRequest))]
[JsonSerializable(typeof(UserDeletionInfo))]
[JsonSerializable(typeof(CreateRepositoryRequest))]
[JsonSerializable(typeof(RepositoryInfo))]
[JsonSerializable(typeof(SearchPage))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(RepositoryPage))]
[JsonSerializable(typeof(UpdateRepositoryRequest))]
[JsonSerializable(typeof(CreateOrganizationRequest))]
[JsonSerializable(typeof(SetMemberRequest))]
[JsonSerializable(typeof(OrganizationInfo))]
[JsonSerializable(typeof(OrganizationList))]
[JsonSerializable(typeof(MemberList))]
[JsonSerializable(typeof(ChangePasswordRequest))]
[JsonSerializable(typeof(RegistryCredentialInfo))]
[JsonSerializable(typeof(RegistryCredentialList))]
[JsonSerializable(typeof(CreateRegistryCredentialRequest))]
[JsonSerializable(typeof(AuditPage))]
[JsonSerializable(typeof(Registry.TokenResponse))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(string))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
