namespace Wharf.Core.Events;

/// <summary>
/// Told about every committed <see cref="RegistryChange"/> (audit, default visibility, push details for listings and
/// search, and, next, webhooks). Handlers run in registration order, awaited by the request that made the change, after
/// the change is stored: a handler must not throw (log and go on), because the change has happened whatever it does.
/// Work that must not be lost to a crash between the commit and the handler belongs in the metadata provider's change
/// journal instead (see <c>ISqliteChangeJournal</c>), which is written in the change's own transaction.
/// </summary>
public interface IRegistryChangeHandler
{
    ValueTask HandleAsync(RegistryChange change, CancellationToken cancellationToken);
}

/// <summary>
/// Told about every manifest served by GET. This runs on the hottest path of the registry: an implementation only
/// counts in memory (no I/O, no waiting, no allocation once warm) and never throws.
/// </summary>
public interface IRegistryPullHandler
{
    void ManifestPulled(string repository, string? tag);
}
