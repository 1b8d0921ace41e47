using Wharf.Core.Events;

namespace Wharf.Core.Webhooks;

/// <summary>
/// The <c>push</c> and <c>delete</c> events of a <see cref="RegistryChange"/>, as the providers' change journals write
/// them into the webhook outbox inside the change's own transaction.
/// </summary>
public static class RegistryChangeNotices
{
    /// <summary>
    /// The notice a change sends, or null for changes no webhook event reports (a repository created, described or made
    /// public). <paramref name="size"/> is the pushed manifest's length in bytes, read by the journal from the write.
    /// </summary>
    public static WebhookNotice? From(RegistryChange change, long? size = null)
    {
        ArgumentNullException.ThrowIfNull(change);
        var actor = change.Actor.Name;
        var request = ChangeRequest.Current;
        return change switch
        {
            ManifestPushed p => new WebhookNotice
            {
                Event = WebhookEvents.Push, Action = "push", Repository = p.Repository,
                Tag = p.Tags.Count > 0 ? p.Tags[0] : null, Tags = p.Tags, Digest = p.Digest.ToString(),
                MediaType = p.Manifest.MediaType, Size = size, Actor = actor, At = p.At, Request = request,
            },
            ManifestDeleted d => Deleted(d, "manifest", null, d.Digest.ToString(), actor, request),
            TagDeleted d => Deleted(d, "tag", d.Tag, null, actor, request),
            BlobDeleted d => Deleted(d, "blob", null, d.Digest.ToString(), actor, request),
            RepositoryDeleted d => Deleted(d, "repository", null, null, actor, request),
            _ => null,
        };
    }

    private static WebhookNotice Deleted(RegistryChange change, string kind, string? tag, string? digest, string? actor, ChangeRequest? request) => new()
    {
        Event = WebhookEvents.Delete, Action = kind, Repository = change.Repository,
        Tag = tag, Tags = tag is null ? [] : [tag], Digest = digest, Actor = actor, At = change.At, Request = request,
    };
}
