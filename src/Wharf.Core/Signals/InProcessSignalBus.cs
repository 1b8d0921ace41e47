using System.Collections.Immutable;

namespace Wharf.Core.Signals;

/// <summary>
/// Delivers signals to this process's subscribers only, synchronously. The SQLite provider uses it as it is (one node);
/// providers that reach other nodes use it for their local delivery.
/// </summary>
public sealed class InProcessSignalBus : ISignalBus
{
    private readonly Lock _gate = new();
    private ImmutableDictionary<SignalTopic, ImmutableArray<Action<string>>> _handlers = ImmutableDictionary<SignalTopic, ImmutableArray<Action<string>>>.Empty;

    /// <summary>Called with what a handler threw (the default drops it).</summary>
    public Action<SignalTopic, Exception>? HandlerFailed { get; set; }

    public void Publish(SignalTopic topic, string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (!Volatile.Read(ref _handlers).TryGetValue(topic, out var handlers)) return;
        foreach (var handler in handlers)
        {
            try
            {
                handler(subject);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                HandlerFailed?.Invoke(topic, e);
            }
        }
    }

    /// <summary>Calls every handler of every topic with <see cref="ISignalBus.AnySubject"/> (signals may have been missed).</summary>
    public void PublishAnyChange()
    {
        foreach (var topic in Volatile.Read(ref _handlers).Keys) Publish(topic, ISignalBus.AnySubject);
    }

    public IDisposable Subscribe(SignalTopic topic, Action<string> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            var current = _handlers.TryGetValue(topic, out var list) ? list : [];
            _handlers = _handlers.SetItem(topic, current.Add(handler));
        }
        return new Subscription(this, topic, handler);
    }

    private void Unsubscribe(SignalTopic topic, Action<string> handler)
    {
        lock (_gate)
        {
            if (!_handlers.TryGetValue(topic, out var list)) return;
            var rest = list.Remove(handler);
            _handlers = rest.IsEmpty ? _handlers.Remove(topic) : _handlers.SetItem(topic, rest);
        }
    }

    private sealed class Subscription(InProcessSignalBus bus, SignalTopic topic, Action<string> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) bus.Unsubscribe(topic, handler);
        }
    }
}
