using Wharf.Core.Builds;

namespace Wharf.Core.Webhooks;

/// <summary>The <c>build</c> event of a build that ended.</summary>
public static class BuildNotices
{
    public static WebhookNotice From(BuildRecord build, DateTimeOffset now) => new()
    {
        Event = WebhookEvents.Build,
        Action = build.State.ToWire(),
        Repository = build.Repository,
        Tag = build.Tag,
        Tags = [build.Tag],
        Digest = build.Digest,
        Actor = build.Owner,
        At = build.FinishedAt ?? now,
        Build = new BuildNotice(build.Id, build.State.ToWire(), build.Image, build.Tag, build.Digest,
            build.ErrorKind == BuildErrorKind.None ? null : build.ErrorKind.ToString().ToLowerInvariant(), build.ErrorMessage,
            build.CreatedAt, build.StartedAt, build.FinishedAt ?? now),
    };
}
