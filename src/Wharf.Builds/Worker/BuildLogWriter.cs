using System.Threading.Channels;
using Wharf.Core.Builds;
using Wharf.Core.Signals;

namespace Wharf.Builds.Worker;

/// <summary>
/// Timestamps and numbers a build's log lines and stores them in small batches (every 200 ms or 200 lines), so
/// followers see them live and a build's output costs few write transactions. Each stored batch is signalled
/// (<see cref="SignalTopic.BuildChanged"/>), so followers on any node read it at once.
/// </summary>
internal sealed class BuildLogWriter : IBuildLog, IAsyncDisposable
{
    private const int MaxLineLength = 8192;
    private readonly Channel<BuildLogLine> _lines = Channel.CreateUnbounded<BuildLogLine>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IBuildStore _store;
    private readonly Guid _buildId;
    private readonly TimeProvider _time;
    private readonly ISignalBus _signals;
    private readonly Task _pump;
    private long _sequence;

    private BuildLogWriter(IBuildStore store, ISignalBus signals, Guid buildId, long lastSequence, TimeProvider time)
    {
        _signals = signals;
        _store = store;
        _buildId = buildId;
        _sequence = lastSequence;
        _time = time;
        _pump = PumpAsync();
    }

    public static async Task<BuildLogWriter> OpenAsync(IBuildStore store, ISignalBus signals, Guid buildId, TimeProvider time, CancellationToken cancellationToken) =>
        new(store, signals, buildId, await store.LastLogSequenceAsync(buildId, cancellationToken), time);

    public ValueTask WriteAsync(string line, CancellationToken cancellationToken)
    {
        if (line.Length > MaxLineLength) line = line[..MaxLineLength] + "…";
        _lines.Writer.TryWrite(new BuildLogLine(Interlocked.Increment(ref _sequence), _time.GetUtcNow(), line));
        return ValueTask.CompletedTask;
    }

    private async Task PumpAsync()
    {
        var batch = new List<BuildLogLine>(200);
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync())
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(200);
            while (batch.Count < 200)
            {
                if (reader.TryRead(out var line))
                {
                    batch.Add(line);
                    continue;
                }
                var wait = deadline - DateTime.UtcNow;
                if (wait <= TimeSpan.Zero) break;
                using var cts = new CancellationTokenSource(wait);
                try
                {
                    if (!await reader.WaitToReadAsync(cts.Token)) break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            if (batch.Count > 0)
            {
                try
                {
                    await _store.AppendLogAsync(_buildId, batch, CancellationToken.None);
                    _signals.Publish(SignalTopic.BuildChanged, _buildId.ToString("D"));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Losing log lines must not fail the build; the next batch tries again.
                }
                batch.Clear();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _pump;
    }
}
