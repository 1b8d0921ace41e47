using System.Security.Claims;
using System.Text.RegularExpressions;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Signals;
using Wharf.Core.Telemetry;

namespace Wharf.Core.Builds;

/// <summary>What went wrong with a build request, mapped to an HTTP status by the endpoints.</summary>
public enum BuildProblemKind
{
    Invalid,
    NotFound,
    Conflict,
    TooLarge,
    Unauthenticated,
    Forbidden,
}

public sealed record BuildProblem(BuildProblemKind Kind, string Message);

/// <summary>A value or a <see cref="BuildProblem"/>.</summary>
public readonly record struct BuildResult<T>(T? Value, BuildProblem? Problem)
{
    public static implicit operator BuildResult<T>(T value) => new(value, null);

    public static implicit operator BuildResult<T>(BuildProblem problem) => new(default, problem);
}

/// <summary>A build request after its source was stored (by id).</summary>
public sealed record BuildSubmission
{
    public required Guid Id { get; init; }

    public required BuildSourceKind SourceKind { get; init; }

    public required string Image { get; init; }

    public string? DockerfilePath { get; init; }

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public string? Target { get; init; }

    public string? Platform { get; init; }

    public Guid? CredentialId { get; init; }

    public bool UseDockerHubSettings { get; init; }

    /// <summary>Secrets for <c>RUN --mount=type=secret,id=…</c>, by id; kept encrypted with the source, never in the database.</summary>
    public IReadOnlyDictionary<string, byte[]> Secrets { get; init; } = new Dictionary<string, byte[]>();
}

/// <summary>Submit, look up, list, retry and cancel builds on behalf of a caller.</summary>
public sealed partial class BuildService(
    IBuildStore store,
    IBuildSourceStore sources,
    IRegistryAccessPolicy access,
    IRegistryCredentialStore credentials,
    IBuildQueueSignal signal,
    IBuildCancellation cancellation,
    IBuildReview review,
    BuildOptions options,
    ISignalBus signals,
    TimeProvider time,
    WharfMetrics? metrics = null)
{
    /// <summary>Most secrets one build takes.</summary>
    public const int MaxSecrets = 32;

    /// <summary>Largest secret, in bytes.</summary>
    public const int MaxSecretBytes = 64 * 1024;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SecretId();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex BuildArgName();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex StageName();

    [GeneratedRegex(@"^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex PlatformPattern();

    /// <summary>The namespace of anonymous builds (open mode).</summary>
    public const string AnonymousNamespace = "_anonymous";

    public async Task<BuildResult<BuildRecord>> SubmitAsync(ClaimsPrincipal caller, BuildSubmission submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(submission);
        if (!ImageReference.TryParse(submission.Image, out var image, out var imageError))
        {
            return new BuildProblem(BuildProblemKind.Invalid, $"image: {imageError}");
        }
        foreach (var (name, value) in submission.BuildArgs)
        {
            if (!BuildArgName().IsMatch(name)) return new BuildProblem(BuildProblemKind.Invalid, $"build_args: '{name}' is not a valid argument name.");
            if (value.Length > 4096 || value.Contains('\0', StringComparison.Ordinal)) return new BuildProblem(BuildProblemKind.Invalid, $"build_args: the value of '{name}' is too long or not text.");
        }
        if (submission.BuildArgs.Count > 100) return new BuildProblem(BuildProblemKind.Invalid, "build_args: at most 100 arguments.");
        if (submission.Target is { } target && !StageName().IsMatch(target))
        {
            return new BuildProblem(BuildProblemKind.Invalid, $"target: '{target}' is not a valid stage name.");
        }
        if (submission.Platform is { } platform && !PlatformPattern().IsMatch(platform))
        {
            return new BuildProblem(BuildProblemKind.Invalid, $"platform: '{platform}' is not os/arch[/variant].");
        }
        if (submission.Secrets.Count > MaxSecrets) return new BuildProblem(BuildProblemKind.Invalid, $"secrets: at most {MaxSecrets} secrets.");
        foreach (var (id, value) in submission.Secrets)
        {
            if (!SecretId().IsMatch(id)) return new BuildProblem(BuildProblemKind.Invalid, $"secrets: '{id}' is not a valid secret id (letters, digits, '.', '_', '-').");
            if (value.Length > MaxSecretBytes) return new BuildProblem(BuildProblemKind.TooLarge, $"secrets: '{id}' is larger than {MaxSecretBytes} bytes.");
        }
        if (submission.Secrets.Count > 0 && string.Equals(options.Engine, "Docker", StringComparison.OrdinalIgnoreCase))
        {
            return new BuildProblem(BuildProblemKind.Invalid, "secrets: this server builds with the Docker Engine, whose build API (the classic builder) has no secret mounts; the buildah engine has them.");
        }
        var dockerfilePath = submission.DockerfilePath ?? "Dockerfile";
        if (submission.SourceKind == BuildSourceKind.Context)
        {
            var check = await sources.CheckDockerfileAsync(submission.Id, dockerfilePath, cancellationToken);
            if (!check.Succeeded)
            {
                return new BuildProblem(check.Problem == SourceProblem.TooLarge ? BuildProblemKind.TooLarge : BuildProblemKind.Invalid, check.Message ?? "dockerfile_path is not in the context.");
            }
        }
        else
        {
            dockerfilePath = "Dockerfile";
        }

        if (await sources.ReadDockerfileAsync(submission.Id, submission.SourceKind, dockerfilePath, cancellationToken) is { } dockerfile
            && review.Refusal(dockerfile, submission.BuildArgs) is { } refusal)
        {
            return new BuildProblem(BuildProblemKind.Invalid, refusal);
        }

        var owner = caller.Username();
        if (image.Registry is null)
        {
            var decision = await access.CheckAsync(caller, RegistryScope.ForRepository(image.Repository, RegistryActions.Pull | RegistryActions.Push), cancellationToken);
            if (decision == AccessDecision.Unauthenticated) return new BuildProblem(BuildProblemKind.Unauthenticated, $"Sign in to push to {image.Repository}.");
            if (decision == AccessDecision.Denied) return new BuildProblem(BuildProblemKind.Forbidden, $"You may not push to {image.Repository}.");
        }
        if (submission.CredentialId is { } credentialId
            && await credentials.FindAsync(owner, credentialId, image.Registry ?? "", cancellationToken) is null)
        {
            return new BuildProblem(BuildProblemKind.Invalid, $"registry_credential: no stored credential {credentialId}.");
        }
        var ns = owner ?? (image.Registry is null ? FirstComponent(image.Repository) : AnonymousNamespace);
        var record = new BuildRecord
        {
            Id = submission.Id,
            Owner = owner,
            Namespace = ns,
            Image = submission.Image,
            Registry = image.Registry,
            Repository = image.Repository,
            Tag = image.Tag,
            SourceKind = submission.SourceKind,
            DockerfilePath = dockerfilePath,
            BuildArgs = submission.BuildArgs,
            Target = submission.Target,
            Platform = submission.Platform,
            CredentialId = submission.CredentialId,
            UseDockerHubSettings = submission.UseDockerHubSettings,
            SecretIds = [.. submission.Secrets.Keys.Order(StringComparer.Ordinal)],
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds()), // as stored
        };
        if (submission.Secrets.Count > 0) await sources.SaveSecretsAsync(submission.Id, submission.Secrets, cancellationToken);
        await store.CreateAsync(record, cancellationToken);
        signal.Notify();
        return record;
    }

    /// <summary>The build, when the caller may see it (its owner, an administrator, or anyone for an anonymous build).</summary>
    public async Task<BuildResult<BuildRecord>> GetAsync(ClaimsPrincipal caller, Guid id, CancellationToken cancellationToken)
    {
        var build = await store.GetAsync(id, cancellationToken);
        if (build is null || !MaySee(caller, build)) return new BuildProblem(BuildProblemKind.NotFound, $"No build {id}.");
        return build;
    }

    public Task<IReadOnlyList<BuildRecord>> ListAsync(ClaimsPrincipal caller, string? repository, BuildState? state, int limit, BuildCursor? after, CancellationToken cancellationToken) =>
        store.ListAsync(new BuildFilter(caller.Username(), caller.IsAdmin(), repository, state, limit, after), cancellationToken);

    /// <summary>
    /// Retries the failed phase: a build whose push failed is pushed again without rebuilding; a failed, timed-out
    /// or cancelled build is built again, then pushed.
    /// </summary>
    public async Task<BuildResult<BuildRecord>> RetryAsync(ClaimsPrincipal caller, Guid id, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (found.Value is not { } build) return found;
        // A retry pushes again: the caller's credential and permissions must allow that push now.
        if (build.Registry is null && await MayPushAsync(caller, build.Repository, cancellationToken) is { } refused) return refused;
        if (!build.State.IsFinished()) return new BuildProblem(BuildProblemKind.Conflict, $"Build {id} is {build.State.ToWire()}; only a finished build can be retried.");
        if (build.State == BuildState.Succeeded) return new BuildProblem(BuildProblemKind.Conflict, $"Build {id} succeeded; there is nothing to retry.");
        if (build.Registry is null)
        {
            // A retry is judged with the permissions the caller has now, not those the build was queued with.
            var decision = await access.CheckAsync(caller, RegistryScope.ForRepository(build.Repository, RegistryActions.Pull | RegistryActions.Push), cancellationToken);
            if (decision == AccessDecision.Unauthenticated) return new BuildProblem(BuildProblemKind.Unauthenticated, $"Sign in to push to {build.Repository}.");
            if (decision == AccessDecision.Denied) return new BuildProblem(BuildProblemKind.Forbidden, $"You may no longer push to {build.Repository}, so its build cannot be retried.");
        }
        var pushOnly = build.BuildStatus == PhaseStatus.Completed && build.LocalImage is not null;
        if (!await store.RequeueAsync(id, pushOnly ? PhaseStatus.Completed : PhaseStatus.Pending, cancellationToken))
        {
            return new BuildProblem(BuildProblemKind.Conflict, $"Build {id} changed meanwhile; try again.");
        }
        signal.Notify();
        return (await store.GetAsync(id, cancellationToken))!;
    }

    public async Task<BuildResult<BuildRecord>> CancelAsync(ClaimsPrincipal caller, Guid id, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (found.Value is not { } build) return found;
        // Cancelling changes the build: not with a credential that may only pull.
        if (caller.Username() is not null && !caller.ActionLimit().HasFlag(RegistryActions.Push))
        {
            return new BuildProblem(BuildProblemKind.Forbidden, "Cancelling a build needs a credential that may push.");
        }
        if (build.State.IsFinished()) return new BuildProblem(BuildProblemKind.Conflict, $"Build {id} already ended ({build.State.ToWire()}).");
        var after = await store.CancelAsync(id, cancellationToken);
        if (after is null) return new BuildProblem(BuildProblemKind.NotFound, $"No build {id}.");
        if (after.State == BuildState.Running) cancellation.Cancel(id);
        else
        {
            signals.Publish(SignalTopic.BuildChanged, id.ToString("D"));
            if (after.State == BuildState.Cancelled) metrics?.BuildFinished(after.State.ToWire());
        }
        return after;
    }

    public async Task<BuildResult<IReadOnlyList<BuildLogLine>>> ReadLogAsync(ClaimsPrincipal caller, Guid id, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (found.Problem is { } problem) return problem;
        return new BuildResult<IReadOnlyList<BuildLogLine>>(await store.ReadLogAsync(id, afterSequence, limit, cancellationToken), null);
    }

    private async Task<BuildProblem?> MayPushAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken) =>
        await access.CheckAsync(caller, RegistryScope.ForRepository(repository, RegistryActions.Pull | RegistryActions.Push), cancellationToken) switch
        {
            AccessDecision.Unauthenticated => new BuildProblem(BuildProblemKind.Unauthenticated, $"Sign in to push to {repository}."),
            AccessDecision.Denied => new BuildProblem(BuildProblemKind.Forbidden, $"You may not push to {repository}."),
            _ => null,
        };

    private static bool MaySee(ClaimsPrincipal caller, BuildRecord build) =>
        build.Owner is null || caller.IsAdmin() || string.Equals(caller.Username(), build.Owner, StringComparison.Ordinal);

    private static string FirstComponent(string repository)
    {
        var slash = repository.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "library" : repository[..slash];
    }
}
