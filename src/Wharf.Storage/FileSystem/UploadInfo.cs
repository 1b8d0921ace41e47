using System.Text.Json.Serialization;

namespace Wharf.Storage.FileSystem;

/// <summary>The <c>uploads/&lt;uuid&gt;/info</c> file: what a session is for and when it was last touched.</summary>
internal sealed record UploadInfo(string Repository, string DigestAlgorithm, DateTimeOffset StartedAt, DateTimeOffset UpdatedAt);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(UploadInfo))]
internal sealed partial class UploadInfoJsonContext : JsonSerializerContext;
