using Wharf.Core.Accounts;
using Wharf.Core.Events;

namespace Wharf.Server.Accounts;

/// <summary>
/// Subscribes to <see cref="RegistryEvents"/> and writes one audit record per change, whichever surface made it:
/// pushes, every delete (manifest, tag, blob, repository; through <c>/v2</c> or <c>/api/v1</c>), repository creation,
/// changes and visibility. A failure to write is logged; the change itself has already happened.
/// </summary>
public sealed partial class AuditTrail(IAuditLog audit, ILogger<AuditTrail> logger) : IRegistryChangeHandler
{
    public async ValueTask HandleAsync(RegistryChange change, CancellationToken cancellationToken)
    {
        try
        {
            await audit.AppendAsync(ToEntry(change), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.AuditFailed(logger, e, change.Kind, change.Target);
        }
    }

    /// <summary>The audit record of a change: action, target and detail.</summary>
    public static AuditEntry ToEntry(RegistryChange change)
    {
        var (action, detail) = change switch
        {
            ManifestPushed pushed => (AuditActions.Push, pushed.Digest.ToString()),
            ManifestDeleted => (AuditActions.Delete, "manifest"),
            TagDeleted => (AuditActions.Delete, "tag"),
            BlobDeleted => (AuditActions.Delete, "blob"),
            RepositoryDeleted => (AuditActions.Delete, "repository"),
            RepositoryCreated created => (AuditActions.RepositoryCreated, AccountText.Format(created.Visibility)),
            RepositoryUpdated updated => (AuditActions.RepositoryUpdated, string.Join(',', Changed(updated))),
            RepositoryVisibilityChanged visibility => (AuditActions.VisibilityChanged, AccountText.Format(visibility.Visibility)),
            _ => (change.Kind.ToString(), null),
        };
        return new AuditEntry(change.Actor.Name, change.Actor.ClientAddress, action, change.Target, Detail: detail);
    }

    private static IEnumerable<string> Changed(RepositoryUpdated updated)
    {
        if (updated.DescriptionChanged) yield return "description";
        if (updated.ReadmeChanged) yield return "readme";
        if (updated.Visibility is { } visibility) yield return "visibility=" + AccountText.Format(visibility);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Could not write the audit record of {Kind} {Target}")]
        public static partial void AuditFailed(ILogger logger, Exception exception, RegistryChangeKind kind, string target);
    }
}
