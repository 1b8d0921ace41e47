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
    ILogger<BuildWorker> logger) : BackgroundService
{
    /// <summary>This process's worker id prefix (host name and a random suffix), used as the lease owner.</summary>
    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Workers == 0) return Task.CompletedTask;
        LogStarting(logger, options.Workers, options.Engine);
        var loops = Enumerable.Range(0, options.Workers).Select(i => Task.Run(() => LoopAsync($"{Id}/{i}", stoppingToken), CancellationToken.None));
        return Task.WhenAll(loops);
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
