using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Core.Builds;

namespace Wharf.Builds.Worker;

/// <summary>
/// Runs <see cref="BuildOptions.Workers"/> loops that lease the oldest queued build and run it. An idle loop wakes on
/// an in-process signal (a submit) or every <see cref="BuildOptions.PollInterval"/> (builds queued by other nodes,
/// lapsed leases).
/// </summary>
public sealed partial class BuildWorker(
    IBuildStore store,
    BuildExecutor executor,
    BuildQueueSignal signal,
    BuildOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<BuildWorker> logger) : BackgroundService
{
    /// <summary>This process's worker id prefix (host name and a random suffix), used as the lease owner.</summary>
    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Build workers: {Count} with engine {Engine}")]
    private static partial void LogStarting(ILogger logger, int count, string engine);

    [LoggerMessage(Level = LogLevel.Error, Message = "Running build {BuildId} failed")]
    private static partial void LogRunFailed(ILogger logger, Guid buildId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Leasing a build failed")]
    private static partial void LogLeaseFailed(ILogger logger, Exception exception);
}
