namespace Wharf.Core.Signals;

/// <summary>
/// Waits for signals of one topic and subject (or <see cref="ISignalBus.AnySubject"/>), for a loop that reads after each
/// wake-up: a signal that arrives while the loop is reading is kept, so none is lost between two waits.
/// </summary>
public sealed class SignalWaiter : IDisposable
{
    private readonly SemaphoreSlim _signalled = new(0, 1);
    private readonly IDisposable _subscription;

    public SignalWaiter(ISignalBus bus, SignalTopic topic, string subject)
    {
        ArgumentNullException.ThrowIfNull(bus);
        _subscription = bus.Subscribe(topic, s =>
        {
            if (s != subject && s != ISignalBus.AnySubject) return;
            try
            {
                if (_signalled.CurrentCount == 0) _signalled.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled: one pending wake-up is enough.
            }
            catch (ObjectDisposedException)
            {
                // Disposed while a signal arrived.
            }
        });
    }

    /// <summary>True when a signal came (since the last wait), false when <paramref name="timeout"/> passed first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signalled.WaitAsync(timeout, cancellationToken);

    public void Dispose()
    {
        _subscription.Dispose();
        _signalled.Dispose();
    }
}
