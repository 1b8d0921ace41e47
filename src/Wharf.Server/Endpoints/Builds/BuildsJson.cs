using System.Text.Json.Serialization;
using Wharf.Core.Builds;

namespace Wharf.Server.Endpoints.Builds;

/// <summary>A build as <c>/api/v1/builds</c> shows it.</summary>
public sealed record BuildDto(
    Guid Id,
    string? Owner,
    string Namespace,
    string Image,
    string? Registry,
    string Repository,
    string Tag,
    string State,
    string BuildStatus,
    string PushStatus,
    int Attempts,
    int BuildRuns,
    int PushAttempts,
    string DockerfilePath,
    string? Target,
    string? Platform,
    IReadOnlyDictionary<string, string> BuildArgs,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    BuildErrorDto? Error,
    string? Digest,
    string? PushedReference)
{
    public static BuildDto From(BuildRecord b) => new(
        b.Id, b.Owner, b.Namespace, b.Image, b.Registry, b.Repository, b.Tag, b.State.ToWire(), b.BuildStatus.ToWire(), b.PushStatus.ToWire(),
        b.Attempts, b.BuildRuns, b.PushAttempts, b.DockerfilePath, b.Target, b.Platform, b.BuildArgs, b.CreatedAt, b.StartedAt, b.FinishedAt,
        ErrorOf(b), b.Digest, b.PushedReference);

    /// <summary>The error, if any, with a kind always: a cancelled build's is <c>cancelled</c> (it has a message, and no failure kind).</summary>
    public static BuildErrorDto? ErrorOf(BuildRecord b)
    {
        if (b.ErrorKind == BuildErrorKind.None && b.ErrorMessage is null) return null;
        var kind = b.ErrorKind.ToWire() ?? (b.State == BuildState.Cancelled ? "cancelled" : "unknown");
        return new BuildErrorDto(kind, b.ErrorMessage);
    }
}

public sealed record BuildErrorDto(string? Kind, string? Message);

public sealed record BuildListDto(IReadOnlyList<BuildDto> Builds, string? NextCursor);

public sealed record LogLineDto(long Sequence, DateTimeOffset Time, string Line);

public sealed record RegistryCredentialRequest(string? Host, string? Username, string? Secret, string? Password);

public sealed record RegistryCredentialDto(Guid Id, string Host, string Username, DateTimeOffset CreatedAt);

public sealed record RegistryCredentialListDto(IReadOnlyList<RegistryCredentialDto> Credentials);

/// <summary>The earlier build service's answers, field for field.</summary>
public sealed record LegacyStartedDto(int Status, string Message, Guid BuildId);

/// <summary>
/// <c>/build-push-status</c>: the earlier service's <c>status</c> and <c>build_status</c> exactly, then what it lacked: the
/// build's state, why it failed (<c>error</c>, null unless it did) and where its log is (<c>log_url</c>).
/// </summary>
public sealed record LegacyStatusDto(int Status, LegacyBuildStatusDto BuildStatus, string State, BuildErrorDto? Error, string LogUrl);

public sealed record LegacyBuildStatusDto(Guid BuildId, string BuildStatus, string PushStatus);

public sealed record LegacyErrorDto(int Status, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(BuildDto))]
[JsonSerializable(typeof(BuildErrorDto))]
[JsonSerializable(typeof(BuildListDto))]
[JsonSerializable(typeof(LogLineDto))]
[JsonSerializable(typeof(RegistryCredentialRequest))]
[JsonSerializable(typeof(RegistryCredentialDto))]
[JsonSerializable(typeof(RegistryCredentialListDto))]
[JsonSerializable(typeof(LegacyStartedDto))]
[JsonSerializable(typeof(LegacyStatusDto))]
[JsonSerializable(typeof(LegacyErrorDto))]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class BuildsJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The same contract, written as plain JSON text: messages keep their '&lt;' and '\'' instead of <c>\u003C</c> and
    /// <c>\u0027</c> (the answers are JSON, never embedded in HTML). The earlier build service's endpoints answer with it.
    /// </summary>
    public static BuildsJsonContext PlainText { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
