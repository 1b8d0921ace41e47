namespace Wharf.Core.Signals;

/// <summary>What a signal says has changed. The numbers are part of the wire format between nodes: never reuse one.</summary>
public enum SignalTopic
{
    /// <summary>A tag was pushed, moved or deleted. Subject: <c>repository:tag</c>.</summary>
    TagChanged = 1,

    /// <summary>A manifest was deleted (with the tags that pointed at it). Subject: <c>repository@digest</c>.</summary>
    ManifestDeleted = 2,

    /// <summary>A build was queued (or given back to the queue): an idle worker should look. Subject: empty.</summary>
    BuildQueued = 3,

    /// <summary>A build's log grew or its state changed: followers should read. Subject: the build id.</summary>
    BuildChanged = 4,

    /// <summary>Someone asked to cancel a running build: the worker running it stops it. Subject: the build id.</summary>
    BuildCancelRequested = 5,

    /// <summary>Webhook deliveries were queued (a change or a redelivery): dispatchers should look. Subject: empty.</summary>
    WebhookQueued = 60,
}

/// <summary>
/// Wake-ups and cache invalidations between the nodes that share one metadata store: the provider delivers a published
/// signal to this process's subscribers at once (synchronously, before <see cref="Publish"/> returns) and to every other
/// node soon after (PostgreSQL: LISTEN/NOTIFY; SQLite: this process only). Signals are hints, not a log: delivery to
/// other nodes is best effort, so a subscriber keeps a fallback (a time to live, a poll). When a provider may have
/// missed signals (its connection to the database dropped), it calls every handler once with
/// <see cref="AnySubject"/>: "anything of this topic may have changed".
/// </summary>
public interface ISignalBus
{
    /// <summary>The subject handed to handlers when signals may have been missed.</summary>
    const string AnySubject = "*";

    /// <summary>Publishes a signal. Never blocks on the network; cheap enough for every push.</summary>
    void Publish(SignalTopic topic, string subject);

    /// <summary>
    /// Calls <paramref name="handler"/> with the subject of every signal of <paramref name="topic"/> until the returned
    /// subscription is disposed. Handlers run on the publisher's or the listener's thread: keep them short; what they
    /// throw is logged and dropped.
    /// </summary>
    IDisposable Subscribe(SignalTopic topic, Action<string> handler);
}
