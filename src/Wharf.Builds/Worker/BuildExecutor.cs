using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Sources;
using Wharf.Core.Access;
using Wharf.Core.Builds;
using Wharf.Core.Signals;

namespace Wharf.Builds.Worker;

/// <summary>
/// Runs one leased build to its end: renews the lease while working, checks that the owner may still push to the
/// target (permissions are those of now, not of the submit), reviews the Dockerfile against what builds may reach,
/// builds unless the image is already built (a push retry), makes sure it still holds the lease right before it
/// pushes, pushes with automatic retries on transient failures, and records each phase as it goes. The build timeout,
/// a cancel request, a lost lease and the worker stopping each end it in their own way; the build's work folder
/// (context, secrets) is removed after every outcome.
/// </summary>
public sealed partial class BuildExecutor(
    IBuildStore store,
    IBuildEngine engine,
    IBuildSourceStore sources,
    BuildPaths paths,
    BuildOptions options,
    RegistryTargets targets,
    BuildCancellationRegistry cancellations,
    IAccountAccess accounts,
    ISignalBus signals,
    TimeProvider time,
    ILogger<BuildExecutor> logger)
{
    private enum StopReason
    {
        None,
        Cancelled,
        TimedOut,
        LeaseLost,
    }

    public async Task RunAsync(BuildRecord leased, string workerId, CancellationToken stopping)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var reason = StopReason.None;
        void StopFor(StopReason why)
        {
            if (reason == StopReason.None) reason = why;
            try { stop.Cancel(); } catch (ObjectDisposedException) { }
        }
        using var timeout = new CancellationTokenSource(options.BuildTimeout);
        using var onTimeout = timeout.Token.Register(() => StopFor(StopReason.TimedOut));
        using var cancelled = new CancellationTokenSource();
        using var onCancel = cancelled.Token.Register(() => StopFor(StopReason.Cancelled));
        cancellations.Register(leased.Id, cancelled);
        if (leased.CancelRequested) StopFor(StopReason.Cancelled);
        using var renewalStop = new CancellationTokenSource();
        var renewal = RenewAsync(leased.Id, workerId, () => StopFor(StopReason.LeaseLost), () => StopFor(StopReason.Cancelled), renewalStop.Token);
        await using var log = await BuildLogWriter.OpenAsync(store, signals, leased.Id, time, CancellationToken.None);
        var build = leased with { Engine = engine.Name, LocalImage = leased.LocalImage ?? $"wharf-build-{leased.Id:N}" };
        LogStarted(logger, build.Id, build.Image, build.Attempts);
        var current = new BuildBox(build);
        try
        {
            build = await ExecuteAsync(current, workerId, log, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            build = current.Value;
            switch (reason)
            {
                case StopReason.Cancelled:
                    await log.WriteAsync("Cancelled by request.", CancellationToken.None);
                    build = await EndAsync(build, workerId, BuildState.Cancelled, BuildErrorKind.None,
                        $"Cancelled by request during the {(build.BuildStatus == PhaseStatus.InProgress ? "build" : "push")}.", log);
                    break;
                case StopReason.TimedOut:
                    await log.WriteAsync($"Stopped: the build timeout ({Describe(options.BuildTimeout)}) was reached.", CancellationToken.None);
                    build = await EndAsync(build with { ErrorLimit = nameof(BuildOptions.BuildTimeout) }, workerId, BuildState.TimedOut,
                        build.BuildStatus == PhaseStatus.InProgress ? BuildErrorKind.Build : BuildErrorKind.Push,
                        $"The build ran longer than the build timeout (Wharf:Builds:BuildTimeout = {Describe(options.BuildTimeout)}) and was stopped.", log);
                    break;
                case StopReason.LeaseLost:
                    LogLeaseLost(logger, build.Id);
                    break;
                default:
                    // The worker is stopping: give the build back so it is taken up again at once.
                    await store.ReleaseAsync(build.Id, workerId, CancellationToken.None);
                    signals.Publish(SignalTopic.BuildQueued, "");
                    LogReleased(logger, build.Id);
                    break;
            }
        }
        catch (LeaseLostException)
        {
            LogLeaseLost(logger, build.Id);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            build = current.Value;
            LogInfrastructureFailure(logger, build.Id, e);
            await log.WriteAsync($"Wharf failed: {e.Message}", CancellationToken.None);
            build = await EndAsync(build, workerId, BuildState.Failed, BuildErrorKind.Infrastructure, $"Wharf failed to run the build: {e.Message}", log);
        }
        finally
        {
            cancellations.Unregister(leased.Id);
            await renewalStop.CancelAsync();
            await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        LogFinished(logger, build.Id, build.State.ToWire());
    }

    private async Task<BuildRecord> ExecuteAsync(BuildBox current, string workerId, BuildLogWriter log, CancellationToken cancellationToken)
    {
        var build = current.Value;
        if (await OwnerMayNotPushAsync(build, cancellationToken) is { } refused)
        {
            await log.WriteAsync(refused, CancellationToken.None);
            return await EndAsync(build, workerId, BuildState.Failed, BuildErrorKind.Push, refused, log);
        }
        var needsBuild = build.BuildStatus != PhaseStatus.Completed
            || build.Engine != engine.Name
            || !await engine.HasImageAsync(build.Namespace, build.LocalImage!, cancellationToken);
        if (needsBuild)
        {
            build = await SaveAsync(current, build with { BuildStatus = PhaseStatus.InProgress, PushStatus = PhaseStatus.Pending, BuildRuns = build.BuildRuns + 1 }, workerId);
            var secrets = build.SecretIds.Count == 0 ? new Dictionary<string, byte[]>() : await sources.ReadSecretsAsync(build.Id, cancellationToken);
            if (secrets is null || build.SecretIds.Any(id => !secrets.ContainsKey(id)))
            {
                return await EndAsync(build with { BuildStatus = PhaseStatus.Failed }, workerId, BuildState.Failed, BuildErrorKind.Infrastructure,
                    "The build's secrets are no longer stored; submit it again with them.", log);
            }
            log.Mask(secrets.Values.Select(v => Encoding.UTF8.GetString(v)));
            EngineResult built;
            BuildWorkspace workspace;
            try
            {
                workspace = await BuildWorkspace.PrepareAsync(paths, sources, build, cancellationToken);
            }
            catch (InvalidDataException e)
            {
                await log.WriteAsync(e.Message, CancellationToken.None);
                return await EndAsync(build with { BuildStatus = PhaseStatus.Failed }, workerId, BuildState.Failed, BuildErrorKind.Build, e.Message, log);
            }
            await using (workspace)
            {
                var dockerfilePath = Path.Combine(workspace.ContextDirectory, build.DockerfilePath);
                var policy = targets.OriginPolicy();
                var review = policy.Review(await File.ReadAllTextAsync(dockerfilePath, cancellationToken), build.BuildArgs);
                if (review.Refusal is { } refusal)
                {
                    await log.WriteAsync("Refused: " + refusal, CancellationToken.None);
                    return await EndAsync(build with { BuildStatus = PhaseStatus.Failed }, workerId, BuildState.Failed, BuildErrorKind.Build, refusal, log);
                }
                await File.WriteAllTextAsync(dockerfilePath, review.Dockerfile, cancellationToken);
                var buildArgs = build.BuildArgs;
                built = await engine.BuildAsync(new EngineBuildRequest
                {
                    BuildId = build.Id,
                    Namespace = build.Namespace,
                    ContextDirectory = workspace.ContextDirectory,
                    WorkDirectory = workspace.Folder,
                    DockerfilePath = build.DockerfilePath,
                    LocalImage = build.LocalImage!,
                    BuildArgs = buildArgs,
                    Target = build.Target,
                    Platform = build.Platform,
                    PullLogins = await targets.PullLoginsAsync(build, cancellationToken),
                    InsecureRegistries = targets.InsecureHosts(build),
                    Images = review.Images,
                    ReviewWithImages = configs => policy.Review(review.Dockerfile, buildArgs, configs).Refusal,
                    IsolateNetwork = !policy.AllowsUrls,
                    Secrets = await workspace.WriteSecretsAsync(secrets, cancellationToken),
                }, log, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (!built.Succeeded)
            {
                await log.WriteAsync($"Build failed: {built.Error}", CancellationToken.None);
                return await EndAsync(build with { BuildStatus = PhaseStatus.Failed, ErrorLimit = built.Limit }, workerId, BuildState.Failed, BuildErrorKind.Build, built.Error ?? "The build failed.", log);
            }
            build = await SaveAsync(current, build with { BuildStatus = PhaseStatus.Completed }, workerId);
        }
        else
        {
            await log.WriteAsync("The image is already built; pushing it again without rebuilding.", cancellationToken);
        }

        // Judged again right before the push: a build may have waited, or built for a long time, since it was queued.
        if (await OwnerMayNotPushAsync(build, cancellationToken) is { } noLonger)
        {
            await log.WriteAsync(noLonger, CancellationToken.None);
            return await EndAsync(build, workerId, BuildState.Failed, BuildErrorKind.Push, noLonger, log);
        }
        await EnsureLeaseAsync(build.Id, workerId, cancellationToken);
        var destination = targets.Destination(build);
        build = await SaveAsync(current, build with { PushStatus = PhaseStatus.InProgress, PushedReference = destination }, workerId);
        var host = destination[..destination.IndexOf('/', StringComparison.Ordinal)];
        var request = new EnginePushRequest
        {
            BuildId = build.Id,
            Namespace = build.Namespace,
            LocalImage = build.LocalImage!,
            Destination = destination,
            Login = await targets.PushLoginAsync(build, cancellationToken),
            Insecure = targets.IsInsecure(host),
        };
        var delay = options.PushRetryDelay;
        EngineResult pushed;
        for (var attempt = 0; ; attempt++)
        {
            build = current.Value = build with { PushAttempts = build.PushAttempts + 1 };
            pushed = await engine.PushAsync(request, log, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            if (pushed.Succeeded || !pushed.Transient || attempt >= options.PushRetries) break;
            await log.WriteAsync($"Push failed ({pushed.Error}); retrying in {Describe(delay)}.", cancellationToken);
            await Task.Delay(delay, time, cancellationToken);
            delay *= 2;
            await EnsureLeaseAsync(build.Id, workerId, cancellationToken);
        }
        if (!pushed.Succeeded)
        {
            await log.WriteAsync($"Push failed: {pushed.Error}", CancellationToken.None);
            return await EndAsync(build with { PushStatus = PhaseStatus.Failed }, workerId, BuildState.Failed, BuildErrorKind.Push, pushed.Error ?? "The push failed.", log);
        }
        await log.WriteAsync($"Pushed {destination}{(pushed.Digest is { } d ? " " + d : "")}", cancellationToken);
        // A succeeded build cannot be retried: its local image and its source (with its secrets) are no longer needed.
        // Removed before the build shows as ended, so the worker is free by the time anyone sees the end.
        await engine.RemoveImageAsync(build.Namespace, build.LocalImage!, CancellationToken.None);
        await sources.DeleteAsync(build.Id, CancellationToken.None);
        return await EndAsync(build with { PushStatus = PhaseStatus.Completed, Digest = pushed.Digest }, workerId, BuildState.Succeeded, BuildErrorKind.None, null, log);
    }

    /// <summary>Null when the build's owner may push to its target now (or it goes elsewhere); else why not.</summary>
    private async Task<string?> OwnerMayNotPushAsync(BuildRecord build, CancellationToken cancellationToken)
    {
        if (build.Registry is not null || build.Owner is not { } owner) return null;
        var actions = await accounts.ActionsAsync(owner, build.Repository, cancellationToken);
        return actions.HasFlag(RegistryActions.Push)
            ? null
            : $"{owner} may no longer push to {build.Repository}: a build acts with its owner's permissions at the time it runs, and they no longer allow it.";
    }

    /// <summary>Renews the lease now; throws <see cref="LeaseLostException"/> when another worker has it (so this one never pushes).</summary>
    private async Task EnsureLeaseAsync(Guid id, string workerId, CancellationToken cancellationToken)
    {
        var held = await store.RenewLeaseAsync(id, workerId, options.LeaseDuration, cancellationToken);
        if (held is null) throw new LeaseLostException();
        if (held.CancelRequested) cancellations.Cancel(id);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task<BuildRecord> SaveAsync(BuildBox current, BuildRecord build, string workerId)
    {
        current.Value = build;
        if (!await store.UpdateAsync(build, workerId, CancellationToken.None))
        {
            throw new LeaseLostException();
        }
        signals.Publish(SignalTopic.BuildChanged, build.Id.ToString("D"));
        return build;
    }

    private async Task<BuildRecord> EndAsync(BuildRecord build, string workerId, BuildState state, BuildErrorKind kind, string? message, BuildLogWriter log)
    {
        // Every line is stored before the build shows as ended, so a follower that sees the end has seen everything.
        await log.DisposeAsync();
        var ended = build with
        {
            State = state,
            ErrorKind = kind,
            ErrorMessage = message,
            BuildStatus = build.BuildStatus == PhaseStatus.InProgress ? PhaseStatus.Failed : build.BuildStatus,
            PushStatus = build.PushStatus == PhaseStatus.InProgress ? PhaseStatus.Failed : build.PushStatus,
            FinishedAt = time.GetUtcNow(),
        };
        await store.UpdateAsync(ended, workerId, CancellationToken.None);
        signals.Publish(SignalTopic.BuildChanged, ended.Id.ToString("D"));
        return ended;
    }

    private async Task RenewAsync(Guid id, string workerId, Action leaseLost, Action cancelRequested, CancellationToken cancellationToken)
    {
        var every = options.LeaseDuration / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(every, time, cancellationToken);
            BuildRecord? current;
            try
            {
                current = await store.RenewLeaseAsync(id, workerId, options.LeaseDuration, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                LogRenewFailed(logger, id, e);
                continue;
            }
            if (current is null)
            {
                leaseLost();
                return;
            }
            if (current.CancelRequested) cancelRequested();
        }
    }

    /// <summary>The build as last saved, readable after an exception interrupted the run.</summary>
    private sealed class BuildBox(BuildRecord value)
    {
        public BuildRecord Value { get; set; } = value;
    }

    private sealed class LeaseLostException() : Exception("The lease was lost: another worker holds the build.");

    private static string Describe(TimeSpan span) => span.TotalSeconds < 120
        ? span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s"
        : span.ToString("c", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "Build {BuildId} started: {Image}, attempt {Attempt}")]
    private static partial void LogStarted(ILogger logger, Guid buildId, string image, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Build {BuildId} ended: {State}")]
    private static partial void LogFinished(ILogger logger, Guid buildId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Build {BuildId}: the lease was lost; another worker takes it up")]
    private static partial void LogLeaseLost(ILogger logger, Guid buildId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Build {BuildId} given back to the queue: the worker is stopping")]
    private static partial void LogReleased(ILogger logger, Guid buildId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Build {BuildId} failed inside Wharf")]
    private static partial void LogInfrastructureFailure(ILogger logger, Guid buildId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Build {BuildId}: renewing the lease failed")]
    private static partial void LogRenewFailed(ILogger logger, Guid buildId, Exception exception);
}
