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
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(Registry.TokenResponse))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(string))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
