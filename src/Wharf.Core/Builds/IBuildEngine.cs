namespace Wharf.Core.Builds;

/// <summary>Credentials for one registry host, as an engine passes them to the registry.</summary>
public sealed record RegistryLogin(string Host, string Username, string Password);

/// <summary>What an engine builds.</summary>
public sealed record EngineBuildRequest
{
    public required Guid BuildId { get; init; }

    /// <summary>The namespace, for the engine's per-namespace layer cache.</summary>
    public required string Namespace { get; init; }

    /// <summary>A folder holding the extracted, validated context (the Dockerfile included).</summary>
    public required string ContextDirectory { get; init; }

    /// <summary>A tar of the same context (for engines that take an archive).</summary>
    public required string ContextArchive { get; init; }

    /// <summary>The Dockerfile's path inside the context.</summary>
    public required string DockerfilePath { get; init; }

    /// <summary>The name the built image gets in the engine's local storage.</summary>
    public required string LocalImage { get; init; }

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public string? Target { get; init; }

    public string? Platform { get; init; }

    /// <summary>Credentials for pulling base images, per registry host.</summary>
    public IReadOnlyList<RegistryLogin> PullLogins { get; init; } = [];

    /// <summary>Registry hosts reached over plain HTTP (loopback, or configured insecure).</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];
}

/// <summary>What an engine pushes: a local image to a full reference.</summary>
public sealed record EnginePushRequest
{
    public required string Namespace { get; init; }

    public required string LocalImage { get; init; }

    /// <summary>host/repository:tag</summary>
    public required string Destination { get; init; }

    public RegistryLogin? Login { get; init; }

    public bool Insecure { get; init; }
}

/// <summary>The outcome of a build or push step.</summary>
public sealed record EngineResult(bool Succeeded, string? Error = null, string? Digest = null, bool Transient = false)
{
    public static EngineResult Ok(string? digest = null) => new(true, Digest: digest);

    public static EngineResult Fail(string error, bool transient = false) => new(false, error, Transient: transient);
}

/// <summary>Where an engine writes its output, line by line.</summary>
public interface IBuildLog
{
    ValueTask WriteAsync(string line, CancellationToken cancellationToken);
}

/// <summary>A builder engine: buildah, the Docker Engine.</summary>
public interface IBuildEngine
{
    /// <summary>"buildah" or "docker".</summary>
    string Name { get; }

    /// <summary>Builds; cancelling the token stops the build (the engine's processes are killed).</summary>
    Task<EngineResult> BuildAsync(EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken);

    /// <summary>Pushes a built image; a transient failure (network, 5xx, 429) is flagged so the caller retries.</summary>
    Task<EngineResult> PushAsync(EnginePushRequest request, IBuildLog log, CancellationToken cancellationToken);

    /// <summary>Whether the local image is still in the engine's storage (a push retry needs it).</summary>
    Task<bool> HasImageAsync(string @namespace, string localImage, CancellationToken cancellationToken);

    /// <summary>Removes the local image once pushed (best effort; the layer cache stays).</summary>
    Task RemoveImageAsync(string @namespace, string localImage, CancellationToken cancellationToken);
}
