using System.Collections.Concurrent;
using System.Threading.Channels;
using Wharf.Core.Builds;
using Wharf.Core.Signals;

namespace Wharf.Builds.Worker;

/// <summary>
/// Wake-ups of idle workers: a submit or retry on any node sharing the metadata store (through the
/// <see cref="ISignalBus"/>) wakes one idle worker loop of this process at once, instead of it waiting out the poll.
/// </summary>
public sealed class BuildQueueSignal : IBuildQueueSignal, IDisposable
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ISignalBus _signals;
    private readonly IDisposable _subscription;

    public BuildQueueSignal(ISignalBus signals)
    {
        ArgumentNullException.ThrowIfNull(signals);
        _signals = signals;
        _subscription = signals.Subscribe(SignalTopic.BuildQueued, _ => _channel.Writer.TryWrite(true));
    }

    public void Notify() => _signals.Publish(SignalTopic.BuildQueued, "");

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

    public void Dispose() => _subscription.Dispose();
}

/// <summary>
/// Cancels running builds at once, on whichever node runs them: a cancel request is published on the
/// <see cref="ISignalBus"/>, and the process running the build stops it (the lease renewal's check of
/// <see cref="BuildRecord.CancelRequested"/> is the fallback when the signal is missed).
/// </summary>
public sealed class BuildCancellationRegistry : IBuildCancellation, IDisposable
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();
    private readonly ISignalBus _signals;
    private readonly IDisposable _subscription;

    public BuildCancellationRegistry(ISignalBus signals)
    {
        ArgumentNullException.ThrowIfNull(signals);
        _signals = signals;
        _subscription = signals.Subscribe(SignalTopic.BuildCancelRequested, OnCancelRequested);
    }

    public void Cancel(Guid buildId) => _signals.Publish(SignalTopic.BuildCancelRequested, buildId.ToString("D"));

    private void OnCancelRequested(string subject)
    {
        if (!Guid.TryParse(subject, out var buildId) || !_running.TryGetValue(buildId, out var cts)) return;
        try { cts.Cancel(); } catch (ObjectDisposedException) { }
    }

    internal void Register(Guid buildId, CancellationTokenSource cts) => _running[buildId] = cts;

    internal void Unregister(Guid buildId) => _running.TryRemove(buildId, out _);

    public void Dispose() => _subscription.Dispose();
}
