namespace Wharf.Core.Builds;

/// <summary>Why a source upload was refused.</summary>
public enum SourceProblem
{
    None,
    Empty,
    TooLarge,
    Invalid,
}

/// <summary>The outcome of storing a build source.</summary>
public sealed record SourceSaveResult(SourceProblem Problem, string? Message, long Bytes)
{
    public bool Succeeded => Problem == SourceProblem.None;

    public static SourceSaveResult Ok(long bytes) => new(SourceProblem.None, null, bytes);

    public static SourceSaveResult Fail(SourceProblem problem, string message) => new(problem, message, 0);
}

/// <summary>
/// Keeps a build's source (a Dockerfile, or a context archive) until the build is done with it, streaming it to
/// storage every node shares as it is uploaded and refusing what breaks a limit or could escape the context.
/// </summary>
public interface IBuildSourceStore
{
    Task<SourceSaveResult> SaveDockerfileAsync(Guid buildId, Stream content, CancellationToken cancellationToken);

    /// <summary>Stores a tar or tar.gz archive after checking every entry (no absolute or <c>..</c> paths, no links out, size and count limits).</summary>
    Task<SourceSaveResult> SaveContextAsync(Guid buildId, Stream content, CancellationToken cancellationToken);

    /// <summary>Checks that the stored context holds a regular file at <paramref name="dockerfilePath"/> within the Dockerfile size limit.</summary>
    Task<SourceSaveResult> CheckDockerfileAsync(Guid buildId, string dockerfilePath, CancellationToken cancellationToken);

    /// <summary>The Dockerfile's text: the stored Dockerfile, or the entry <paramref name="dockerfilePath"/> of the stored context.</summary>
    Task<string?> ReadDockerfileAsync(Guid buildId, BuildSourceKind kind, string dockerfilePath, CancellationToken cancellationToken);

    /// <summary>The stored source itself (the Dockerfile, or the context archive as uploaded), for the worker that runs the build; null when none is stored.</summary>
    Task<Stream?> OpenSourceAsync(Guid buildId, BuildSourceKind kind, CancellationToken cancellationToken);

    /// <summary>Keeps a build's secrets beside its source, encrypted at rest; they go with the source.</summary>
    Task SaveSecretsAsync(Guid buildId, IReadOnlyDictionary<string, byte[]> secrets, CancellationToken cancellationToken);

    /// <summary>The build's secrets, decrypted (for the worker only); null when none are stored.</summary>
    Task<IReadOnlyDictionary<string, byte[]>?> ReadSecretsAsync(Guid buildId, CancellationToken cancellationToken);

    Task DeleteAsync(Guid buildId, CancellationToken cancellationToken);
}

/// <summary>Reviews a build's Dockerfile at submit time, so a build that names what it may not reach is refused at once.</summary>
public interface IBuildReview
{
    /// <summary>Null when the Dockerfile may be built, else the refusal naming the rule.</summary>
    string? Refusal(string dockerfile, IReadOnlyDictionary<string, string> buildArgs);
}

/// <summary>Wakes idle workers (on every node) when a build is queued.</summary>
public interface IBuildQueueSignal
{
    void Notify();
}

/// <summary>Stops a running build at once (a cancel request), on whichever node runs it.</summary>
public interface IBuildCancellation
{
    void Cancel(Guid buildId);
}
