namespace Wharf.Core.Builds;

/// <summary>How the build's source was given.</summary>
public enum BuildSourceKind
{
    /// <summary>A Dockerfile alone; the context is empty.</summary>
    Dockerfile,
    /// <summary>A tar or tar.gz archive of the context, with the Dockerfile at <see cref="BuildRecord.DockerfilePath"/>.</summary>
    Context,
}

/// <summary>
/// One build: a row in the metadata store. Mutable fields are changed by the worker holding the lease
/// (<see cref="LeaseOwner"/>) or by <see cref="BuildService"/> (retry, cancel) in a guarded update.
/// </summary>
public sealed record BuildRecord
{
    public required Guid Id { get; init; }

    /// <summary>The user who submitted it; null when anonymous in open mode.</summary>
    public string? Owner { get; init; }

    /// <summary>The namespace the build counts against for per-namespace limits and the layer cache.</summary>
    public required string Namespace { get; init; }

    /// <summary>The target as given, e.g. <c>alice/app:1.0</c> or <c>registry.example.com/team/app:1</c>.</summary>
    public required string Image { get; init; }

    /// <summary>The registry host of the target; null for Wharf itself.</summary>
    public string? Registry { get; init; }

    /// <summary>The repository in that registry, e.g. <c>alice/app</c>.</summary>
    public required string Repository { get; init; }

    public required string Tag { get; init; }

    public required BuildSourceKind SourceKind { get; init; }

    /// <summary>Path of the Dockerfile inside the context (default <c>Dockerfile</c>).</summary>
    public string DockerfilePath { get; init; } = "Dockerfile";

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary>The ids of the build's secrets (<c>RUN --mount=type=secret,id=…</c>). Their values are never in the record.</summary>
    public IReadOnlyList<string> SecretIds { get; init; } = [];

    public string? Target { get; init; }

    public string? Platform { get; init; }

    /// <summary>A stored registry credential to push with (external registries); by id.</summary>
    public Guid? CredentialId { get; init; }

    /// <summary>Push with the DOCKERHUB_* settings (the earlier service's behaviour).</summary>
    public bool UseDockerHubSettings { get; init; }

    public BuildState State { get; init; } = BuildState.Queued;

    public PhaseStatus BuildStatus { get; init; } = PhaseStatus.Pending;

    public PhaseStatus PushStatus { get; init; } = PhaseStatus.Pending;

    /// <summary>How many times a worker took the build up (leases granted).</summary>
    public int Attempts { get; init; }

    /// <summary>How many times the engine ran the Dockerfile.</summary>
    public int BuildRuns { get; init; }

    /// <summary>How many push attempts were made, automatic retries included.</summary>
    public int PushAttempts { get; init; }

    public string? LeaseOwner { get; init; }

    public DateTimeOffset? LeaseExpiresAt { get; init; }

    public bool CancelRequested { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public BuildErrorKind ErrorKind { get; init; }

    public string? ErrorMessage { get; init; }

    /// <summary>The setting whose limit ended the build (<c>BuildTimeout</c>, <c>QueueTimeToLive</c>, <c>MaxProcesses</c>, …), if one did.</summary>
    public string? ErrorLimit { get; init; }

    /// <summary>The engine that built the image (a push retry must use the same one).</summary>
    public string? Engine { get; init; }

    /// <summary>The engine's local name of the built image, kept so a push can be retried without rebuilding.</summary>
    public string? LocalImage { get; init; }

    /// <summary>The manifest digest the registry answered on push.</summary>
    public string? Digest { get; init; }

    /// <summary>The full reference the image was pushed to, once known.</summary>
    public string? PushedReference { get; init; }
}

/// <summary>One line of a build's log.</summary>
public sealed record BuildLogLine(long Sequence, DateTimeOffset Time, string Text);

/// <summary>Filters for listing builds; null means any.</summary>
/// <remarks>Newest first; <see cref="After"/> is the last build of the previous page (the cursor).</remarks>
public sealed record BuildFilter(string? Owner, bool AnyOwner = false, string? Repository = null, BuildState? State = null, int Limit = 50, BuildCursor? After = null);

/// <summary>A position in the newest-first listing.</summary>
public readonly record struct BuildCursor(DateTimeOffset CreatedAt, Guid Id)
{
    public override string ToString() => $"{CreatedAt.ToUnixTimeMilliseconds()}.{Id:N}";

    public static bool TryParse(string? text, out BuildCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text)) return false;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0) return false;
        if (!long.TryParse(text.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)) return false;
        if (!Guid.TryParseExact(text.AsSpan(dot + 1), "N", out var id)) return false;
        if (ms > 253402300799999) return false;
        cursor = new BuildCursor(DateTimeOffset.FromUnixTimeMilliseconds(ms), id);
        return true;
    }
}
