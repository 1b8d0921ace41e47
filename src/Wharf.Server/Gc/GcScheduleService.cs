using Wharf.Core.Gc;

namespace Wharf.Server.Gc;

/// <summary>
/// Runs a collection every <see cref="GcOptions.Interval"/> (the first one interval after start) while
/// <see cref="GcOptions.Enabled"/>. Every node may run this: the collector's lock lets one collect at a time, and a node
/// that finds it taken skips that turn. Failures are logged and the next turn tries again.
/// </summary>
public sealed partial class GcScheduleService(GarbageCollector collector, GcOptions options, ILogger<GcScheduleService> logger, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled) return;
        using var timer = new PeriodicTimer(options.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await CollectOnceAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task CollectOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var report = await collector.RunAsync(dryRun: false, "schedule", cancellationToken);
            if (report is null) LogBusy();
            else LogCollected(report.Run.BlobsDeleted, report.Run.BytesFreed, report.Run.ManifestsDeleted, report.Run.UploadsExpired, report.Run.Duration ?? TimeSpan.Zero);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(e);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Garbage collection deleted {Blobs} blobs ({Bytes} bytes) and {Manifests} manifests, expired {Uploads} uploads in {Duration}")]
    private partial void LogCollected(long blobs, long bytes, long manifests, long uploads, TimeSpan duration);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Garbage collection skipped: another collector holds the lock")]
    private partial void LogBusy();

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Garbage collection failed")]
    private partial void LogFailed(Exception exception);
}
