using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Sandbox;
using Wharf.Builds.Sources;
using Wharf.Core.Builds;

namespace Wharf.Builds.Worker;

/// <summary>
/// Runs <see cref="BuildOptions.Workers"/> loops that lease the oldest queued build and run it. An idle loop wakes on
/// an in-process signal (a submit) or every <see cref="BuildOptions.PollInterval"/> (builds queued by other nodes,
/// lapsed leases). On start-up, before anything is leased, it ends what an earlier process of this instance left
/// behind when it died: the processes still running in its build sandboxes, its working containers, its work folders.
/// </summary>
public sealed partial class BuildWorker(
    IBuildStore store,
    BuildExecutor executor,
    BuildQueueSignal signal,
    BuildOptions options,
    BuildSandboxes sandboxes,
    IBuildEngine engine,
    BuildPaths paths,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<BuildWorker> logger) : BackgroundService
{
    /// <summary>This process's worker id prefix (host name and a random suffix), used as the lease owner.</summary>
    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Completes once the start-up recovery ran (tests wait on it rather than on time).</summary>
    public Task Recovered => _recovered.Task;

    private readonly TaskCompletionSource _recovered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RecoverAsync(stoppingToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            LogRecoveryFailed(logger, e);
        }
        finally
        {
            _recovered.TrySetResult();
        }
        if (options.Workers == 0) return;
        // Lease nothing before the host has started: hosted services start before the HTTP server binds, and a build
        // pushes to this server, whose address is known only once it listens (after a restart, interrupted builds
        // would otherwise be taken up at once and pushed to the default address).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        LogStarting(logger, options.Workers, options.Engine);
        var loops = Enumerable.Range(0, options.Workers).Select(i => Task.Run(() => LoopAsync($"{Id}/{i}", stoppingToken), CancellationToken.None));
        await Task.WhenAll(loops);
    }

    private async Task LoopAsync(string workerId, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            BuildRecord? build;
            try
            {
                build = await store.LeaseNextAsync(workerId, options.LeaseDuration, options.QueueTimeToLive, options.MaxConcurrentPerNamespace, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogLeaseFailed(logger, e);
                build = null;
            }
            if (build is null)
            {
                try
                {
                    await signal.WaitAsync(options.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            try
            {
                await executor.RunAsync(build, workerId, stoppingToken);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The executor records every outcome itself; this is the store failing while it did. The lease
                // lapses and the build is taken up again; the loop goes on.
                LogRunFailed(logger, build.Id, e);
            }
            // Others may be waiting behind a per-namespace limit this build held.
            signal.Notify();
        }
    }

    /// <summary>Kills orphaned build processes, removes working containers and the work folders of builds no live worker runs.</summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        sandboxes.LogConfinement();
        var killed = await sandboxes.KillOrphansAsync();
        if (killed > 0) LogOrphans(logger, killed);
        await engine.RecoverAsync(cancellationToken);
        if (!Directory.Exists(paths.WorkRoot)) return;
        var now = time.GetUtcNow();
        foreach (var folder in Directory.EnumerateDirectories(paths.WorkRoot))
        {
            var name = Path.GetFileName(folder);
            var build = Guid.TryParseExact(name, "N", out var id) ? await store.GetAsync(id, cancellationToken) : null;
            // Another live worker sharing this folder may be running it: its lease says so.
            if (build is { State: BuildState.Running, LeaseExpiresAt: { } expires } && expires > now) continue;
            BuildWorkspace.DeleteFolder(folder);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up: killed {Count} build processes an earlier Wharf process left running")]
    private static partial void LogOrphans(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up recovery of the build service failed")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Build workers: {Count} with engine {Engine}")]
    private static partial void LogStarting(ILogger logger, int count, string engine);

    [LoggerMessage(Level = LogLevel.Error, Message = "Running build {BuildId} failed")]
    private static partial void LogRunFailed(ILogger logger, Guid buildId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Leasing a build failed")]
    private static partial void LogLeaseFailed(ILogger logger, Exception exception);
}
