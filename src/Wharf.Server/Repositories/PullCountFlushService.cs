using Wharf.Core.Repositories;

namespace Wharf.Server.Repositories;

/// <summary>
/// Writes the pull counts gathered in memory to the database every <see cref="RepositoryOptions.CounterFlushInterval"/>,
/// in one write transaction, and once more on shutdown. A failed write puts the counts back for the next round.
/// </summary>
public sealed partial class PullCountFlushService(PullCounter pulls, IRepositoryStore store, RepositoryOptions options, ILogger<PullCountFlushService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CounterFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    /// <summary>Writes what has been counted since the last flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var counts = pulls.Drain();
        if (counts.Count == 0) return;
        try
        {
            await store.AddPullsAsync(counts, cancellationToken);
        }
        catch (Exception e)
        {
            pulls.Restore(counts);
            if (e is not OperationCanceledException) Log.FlushFailed(logger, e, counts.Count);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Could not write pull counts of {Repositories} repositories; they are kept for the next flush")]
        public static partial void FlushFailed(ILogger logger, Exception exception, int repositories);
    }
}
