using System.Diagnostics.Metrics;
using Wharf.Core.Builds;
using Wharf.Core.Telemetry;

namespace Wharf.Server.Operations;

/// <summary>
/// The build queue gauges, <c>wharf_build_queue_length</c> and <c>wharf_builds_running</c>: store-wide counts (every
/// node and worker), read from the metadata store just before each scrape (<see cref="RefreshAsync"/>), so an
/// observable callback never waits on the database.
/// </summary>
public sealed class BuildQueueGauges
{
    private readonly IBuildStore _store;
    private long _queued;
    private long _running;

    public BuildQueueGauges(WharfMetrics metrics, IBuildStore store)
    {
        _store = store;
        metrics.Meter.CreateObservableGauge("wharf.build.queue.length", () => Volatile.Read(ref _queued), "{build}", "Builds waiting in the queue.");
        metrics.Meter.CreateObservableGauge("wharf.builds.running", () => Volatile.Read(ref _running), "{build}", "Builds running now, on any worker.");
    }

    /// <summary>Reads the counts; on failure (database down) keeps the last ones, which <c>/readyz</c> reports on.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            var counts = await _store.CountActiveAsync(timeout.Token);
            Volatile.Write(ref _queued, counts.Queued);
            Volatile.Write(ref _running, counts.Running);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            // The scrape still answers with the other figures.
        }
    }
}
