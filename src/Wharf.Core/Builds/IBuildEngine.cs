using Wharf.Core.Builds.Dockerfiles;

namespace Wharf.Core.Builds;

/// <summary>Credentials for one registry host, as an engine passes them to the registry.</summary>
public sealed record RegistryLogin(string Host, string Username, string Password);

/// <summary>A build secret the engine mounts for <c>RUN --mount=type=secret,id=…</c>: its id and the file (readable by root only) holding it.</summary>
public sealed record BuildSecretFile(string Id, string Path);

/// <summary>What an engine builds.</summary>
public sealed record EngineBuildRequest
{
    public required Guid BuildId { get; init; }

    /// <summary>The namespace, for the engine's per-namespace layer cache.</summary>
    public required string Namespace { get; init; }

    /// <summary>A folder holding the extracted, validated context, with the reviewed Dockerfile at <see cref="DockerfilePath"/>.</summary>
    public required string ContextDirectory { get; init; }

    /// <summary>The build's own folder (beside the context, removed after the build) for the engine's files.</summary>
    public required string WorkDirectory { get; init; }

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

    /// <summary>The images the reviewed Dockerfile names, pulled before the build (with the owner's permissions now); the build pulls nothing itself.</summary>
    public IReadOnlyList<PulledImage> Images { get; init; } = [];

    /// <summary>Reviews the Dockerfile again with the pulled images' configs (their ENV, their ONBUILD triggers): a refusal, or null.</summary>
    public Func<IReadOnlyDictionary<string, BaseImageInfo>, string?> ReviewWithImages { get; init; } = _ => null;

    /// <summary>No URL may be fetched: the engine can run where nothing is reachable at all.</summary>
    public bool IsolateNetwork { get; init; }

    /// <summary>Secrets for <c>RUN --mount=type=secret</c>, as files only the engine reads.</summary>
    public IReadOnlyList<BuildSecretFile> Secrets { get; init; } = [];
}

/// <summary>What an engine pushes: a local image to a full reference.</summary>
public sealed record EnginePushRequest
{
    public required Guid BuildId { get; init; }

    public required string Namespace { get; init; }

    public required string LocalImage { get; init; }

    /// <summary>host/repository:tag</summary>
    public required string Destination { get; init; }

    public RegistryLogin? Login { get; init; }

    public bool Insecure { get; init; }
}

/// <summary>The outcome of a build or push step; <see cref="Limit"/> names the setting whose limit ended it, if one did.</summary>
public sealed record EngineResult(bool Succeeded, string? Error = null, string? Digest = null, bool Transient = false, string? Limit = null)
{
    public static EngineResult Ok(string? digest = null) => new(true, Digest: digest);

    public static EngineResult Fail(string error, bool transient = false) => new(false, error, Transient: transient);

    public static EngineResult LimitReached(string limit, string error) => new(false, error, Limit: limit);
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

    /// <summary>On start-up: ends what builds of an earlier, dead process left running, and removes their working containers.</summary>
    Task RecoverAsync(CancellationToken cancellationToken);
}
