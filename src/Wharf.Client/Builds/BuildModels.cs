using System.Text.Json.Serialization;

namespace Wharf.Client.Builds;

// The builds contract of DESIGN.md §3 (/api/v1/builds, snake_case JSON).

public sealed class BuildInfo
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("owner")] public string? Owner { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    [JsonPropertyName("image")] public string? Image { get; set; }
    [JsonPropertyName("repository")] public string? Repository { get; set; }
    [JsonPropertyName("tag")] public string? Tag { get; set; }
    [JsonPropertyName("registry")] public string? Registry { get; set; }
    [JsonPropertyName("state")] public string? State { get; set; }
    [JsonPropertyName("build_status")] public string? BuildStatus { get; set; }
    [JsonPropertyName("push_status")] public string? PushStatus { get; set; }
    [JsonPropertyName("attempts")] public int? Attempts { get; set; }
    [JsonPropertyName("build_runs")] public int? BuildRuns { get; set; }
    [JsonPropertyName("push_attempts")] public int? PushAttempts { get; set; }
    [JsonPropertyName("dockerfile_path")] public string? DockerfilePath { get; set; }
    [JsonPropertyName("target")] public string? Target { get; set; }
    [JsonPropertyName("platform")] public string? Platform { get; set; }
    [JsonPropertyName("build_args")] public Dictionary<string, string>? BuildArgs { get; set; }
    [JsonPropertyName("created_at")] public DateTimeOffset? CreatedAt { get; set; }
    [JsonPropertyName("started_at")] public DateTimeOffset? StartedAt { get; set; }
    [JsonPropertyName("finished_at")] public DateTimeOffset? FinishedAt { get; set; }
    [JsonPropertyName("error")] public BuildError? Error { get; set; }
    [JsonPropertyName("digest")] public string? Digest { get; set; }
    [JsonPropertyName("pushed_reference")] public string? PushedReference { get; set; }

    /// <summary>queued or running.</summary>
    [JsonIgnore] public bool IsFinished => State is not ("queued" or "running");

    [JsonIgnore] public bool Succeeded => State == "succeeded";
}

public sealed class BuildError
{
    [JsonPropertyName("kind")] public string? Kind { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

public sealed class BuildPage
{
    [JsonPropertyName("builds")] public List<BuildInfo>? Builds { get; set; }
    [JsonPropertyName("next_cursor")] public string? NextCursor { get; set; }
}

/// <summary>What <see cref="BuildsClient.SubmitAsync"/> sends: a context folder (streamed as a tar.gz) or a Dockerfile alone.</summary>
public sealed record BuildRequest
{
    /// <summary><c>namespace/name:tag</c> on the server, or a full reference to an external registry.</summary>
    public required string Image { get; init; }

    /// <summary>A folder sent as the build context; null sends <see cref="DockerfilePath"/> alone.</summary>
    public string? ContextDirectory { get; init; }

    /// <summary>With a context: the Dockerfile's path inside it (default <c>Dockerfile</c>). Without: the Dockerfile on disk.</summary>
    public string? DockerfilePath { get; init; }

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public string? Target { get; init; }

    public string? Platform { get; init; }
}

/// <summary>One event of a followed log: a line, or the end with the build's final state.</summary>
public readonly record struct BuildLogEvent(string? Line, string? EndState)
{
    public bool IsEnd => EndState is not null;
}

[JsonSerializable(typeof(BuildInfo))]
[JsonSerializable(typeof(BuildPage))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class BuildsJsonContext : JsonSerializerContext;
