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
        b.ErrorKind == BuildErrorKind.None && b.ErrorMessage is null ? null : new BuildErrorDto(b.ErrorKind.ToWire(), b.ErrorMessage),
        b.Digest, b.PushedReference);
}

public sealed record BuildErrorDto(string? Kind, string? Message);

public sealed record BuildListDto(IReadOnlyList<BuildDto> Builds, string? NextCursor);

public sealed record LogLineDto(long Sequence, DateTimeOffset Time, string Line);

public sealed record RegistryCredentialRequest(string? Host, string? Username, string? Secret, string? Password);

public sealed record RegistryCredentialDto(Guid Id, string Host, string Username, DateTimeOffset CreatedAt);

public sealed record RegistryCredentialListDto(IReadOnlyList<RegistryCredentialDto> Credentials);

/// <summary>The earlier build service's answers, field for field.</summary>
public sealed record LegacyStartedDto(int Status, string Message, Guid BuildId);

public sealed record LegacyStatusDto(int Status, LegacyBuildStatusDto BuildStatus);

public sealed record LegacyBuildStatusDto(Guid BuildId, string BuildStatus, string PushStatus);

public sealed record LegacyErrorDto(int Status, string Message);

/// <summary>The fields of <c>POST /api/v1/builds</c>, for the OpenAPI document (the handler reads the form itself, part by part).</summary>
public sealed record BuildFormDescription(
    string Image, string? DockerfilePath, string? BuildArgs, string? Target, string? Platform, string? RegistryCredential);

/// <summary>Source-generated JSON of the builds surfaces, with the options every <c>/api</c> context shares (see <c>ApiPipeline.ConfigureJson</c>).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(BuildDto))]
[JsonSerializable(typeof(BuildListDto))]
[JsonSerializable(typeof(LogLineDto))]
[JsonSerializable(typeof(RegistryCredentialRequest))]
[JsonSerializable(typeof(RegistryCredentialDto))]
[JsonSerializable(typeof(RegistryCredentialListDto))]
[JsonSerializable(typeof(LegacyStartedDto))]
[JsonSerializable(typeof(LegacyStatusDto))]
[JsonSerializable(typeof(LegacyErrorDto))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(BuildFormDescription))]
public sealed partial class BuildsJsonContext : JsonSerializerContext;
