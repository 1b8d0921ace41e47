using System.Text.Json.Serialization;

namespace Wharf.Client.Registry;

public sealed class TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public int? ExpiresIn { get; set; }
    [JsonPropertyName("issued_at")] public DateTimeOffset? IssuedAt { get; set; }
    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; set; }
}

public sealed class TagList
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; set; }
}

public sealed class OciErrorEnvelope
{
    [JsonPropertyName("errors")] public List<OciError>? Errors { get; set; }
}

public sealed class OciError
{
    [JsonPropertyName("code")] public string? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(TagList))]
[JsonSerializable(typeof(OciErrorEnvelope))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
