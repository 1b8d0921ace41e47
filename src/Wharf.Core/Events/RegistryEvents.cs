namespace Wharf.Core.Events;

/// <summary>
/// The one seam for everything that changes the registry: use cases publish each committed <see cref="RegistryChange"/>
/// here, and pulls are counted here. Subscribers register as <see cref="IRegistryChangeHandler"/> or
/// <see cref="IRegistryPullHandler"/>; none is required.
/// </summary>
public sealed class RegistryEvents
{
    private readonly IRegistryChangeHandler[] _handlers;
    private readonly IRegistryPullHandler[] _pulls;

    public RegistryEvents(IEnumerable<IRegistryChangeHandler> handlers, IEnumerable<IRegistryPullHandler> pulls, TimeProvider time)
    {
        _handlers = [.. handlers];
        _pulls = [.. pulls];
        Time = time;
    }

    /// <summary>No subscribers: for tests and tools that use the Core services alone.</summary>
    public static RegistryEvents None(TimeProvider? time = null) => new([], [], time ?? TimeProvider.System);

    /// <summary>The clock every change is stamped with.</summary>
    public TimeProvider Time { get; }

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Counts a manifest served by GET (in memory, see <see cref="IRegistryPullHandler"/>).</summary>
    public void ManifestPulled(string repository, string? tag)
    {
        foreach (var pull in _pulls) pull.ManifestPulled(repository, tag);
    }

    /// <summary>
    /// Tells every handler about a committed change. Not the caller's token: the change is stored, so its consequences
    /// (audit record, push details) are recorded even when the client has gone.
    /// </summary>
    public async ValueTask PublishAsync(RegistryChange change)
    {
        foreach (var handler in _handlers) await handler.HandleAsync(change, CancellationToken.None);
    }
}
