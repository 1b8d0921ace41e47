using Wharf.Core.Accounts;
using Wharf.Core.Events;

namespace Wharf.Server.Accounts;

/// <summary>
/// Subscribes to pushes: a repository created by its first push gets its default visibility (<see cref="AuthOptions.DefaultVisibilityFor"/>: <c>Wharf:Auth:DefaultVisibility</c>, public for the library) (one created
/// through the API already has its own). A failure is logged; the repository then reads as the default anyway.
/// </summary>
public sealed partial class DefaultVisibilityOnPush(IAccountStore store, AuthOptions options, ILogger<DefaultVisibilityOnPush> logger) : IRegistryChangeHandler
{
    public async ValueTask HandleAsync(RegistryChange change, CancellationToken cancellationToken)
    {
        if (change is not ManifestPushed) return;
        try
        {
            await store.SetVisibilityIfUnsetAsync(change.Repository, options.DefaultVisibilityFor(change.Repository), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.Failed(logger, e, change.Repository);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Could not store the default visibility of {Repository}")]
        public static partial void Failed(ILogger logger, Exception exception, string repository);
    }
}
