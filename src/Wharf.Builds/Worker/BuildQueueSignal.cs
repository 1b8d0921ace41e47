using System.Collections.Concurrent;
using System.Threading.Channels;
using Wharf.Core.Builds;

namespace Wharf.Builds.Worker;

/// <summary>In-process wake-ups: a submit or retry wakes one idle worker at once (no polling delay).</summary>
public sealed class BuildQueueSignal : IBuildQueueSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    /// <summary>Waits for a wake-up or <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Poll interval elapsed.
        }
    }
}

/// <summary>Cancels builds running in this process, by id.</summary>
public sealed class BuildCancellationRegistry : IBuildCancellation
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    public void Cancel(Guid buildId)
    {
        if (_running.TryGetValue(buildId, out var cts))
        {
            try { cts.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    internal void Register(Guid buildId, CancellationTokenSource cts) => _running[buildId] = cts;

    internal void Unregister(Guid buildId) => _running.TryRemove(buildId, out _);
}
