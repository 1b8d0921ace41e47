namespace Wharf.Core.Builds;

/// <summary>Where a build is in its life. Stored and shown as snake_case words (<see cref="BuildWords"/>).</summary>
public enum BuildState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// <summary>The build ran past its timeout, or waited in the queue past the queue time-to-live.</summary>
    TimedOut,
}

/// <summary>The status of one phase (build, push), in the earlier build service's words.</summary>
public enum PhaseStatus
{
    Pending,
    InProgress,
    Completed,
    Failed,
}

/// <summary>Which part of a build failed.</summary>
public enum BuildErrorKind
{
    None,
    /// <summary>The Dockerfile failed (a RUN step, a missing file): not retried automatically.</summary>
    Build,
    /// <summary>The push failed after retries (credentials, registry down).</summary>
    Push,
    /// <summary>Wharf itself failed (engine missing, disk full).</summary>
    Infrastructure,
}

/// <summary>The wire words for the enums, in one place.</summary>
public static class BuildWords
{
    public static string ToWire(this BuildState state) => state switch
    {
        BuildState.Queued => "queued",
        BuildState.Running => "running",
        BuildState.Succeeded => "succeeded",
        BuildState.Failed => "failed",
        BuildState.Cancelled => "cancelled",
        BuildState.TimedOut => "timed_out",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static bool TryParseState(string? text, out BuildState state)
    {
        foreach (var candidate in Enum.GetValues<BuildState>())
        {
            if (string.Equals(candidate.ToWire(), text, StringComparison.OrdinalIgnoreCase))
            {
                state = candidate;
                return true;
            }
        }
        state = default;
        return false;
    }

    public static string ToWire(this PhaseStatus status) => status switch
    {
        PhaseStatus.Pending => "pending",
        PhaseStatus.InProgress => "in_progress",
        PhaseStatus.Completed => "completed",
        PhaseStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    /// <summary>The earlier build service's words: Pending, In Progress, Completed, Failed.</summary>
    public static string ToLegacy(this PhaseStatus status) => status switch
    {
        PhaseStatus.Pending => "Pending",
        PhaseStatus.InProgress => "In Progress",
        PhaseStatus.Completed => "Completed",
        PhaseStatus.Failed => "Failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static string? ToWire(this BuildErrorKind kind) => kind switch
    {
        BuildErrorKind.None => null,
        BuildErrorKind.Build => "build",
        BuildErrorKind.Push => "push",
        BuildErrorKind.Infrastructure => "infrastructure",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static bool IsFinished(this BuildState state) => state is not (BuildState.Queued or BuildState.Running);
}
