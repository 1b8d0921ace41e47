namespace Wharf.Core.Webhooks;

/// <summary>The HTTP request that made a change, as the reference registry's envelope reports it.</summary>
public sealed record ChangeRequest(string Id, string? Address, string? Host, string Method, string? UserAgent)
{
    private static readonly AsyncLocal<ChangeRequest?> CurrentRequest = new();

    /// <summary>
    /// The request in whose flow a change is being written, set by the HTTP layer for requests that may change
    /// something (never for GET or HEAD); null for changes the server makes itself (builds, GC).
    /// </summary>
    public static ChangeRequest? Current
    {
        get => CurrentRequest.Value;
        set => CurrentRequest.Value = value;
    }
}

/// <summary>What happened, in the words a webhook payload uses; built by the metadata provider inside the change's transaction.</summary>
public sealed record WebhookNotice
{
    /// <summary>The event type a webhook subscribes to.</summary>
    public required WebhookEvents Event { get; init; }

    /// <summary>Finer than the event: <c>push</c>; <c>manifest</c>, <c>tag</c>, <c>blob</c> or <c>repository</c> for deletes; the build's state.</summary>
    public required string Action { get; init; }

    public required string Repository { get; init; }

    public string? Tag { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? Digest { get; init; }

    public string? MediaType { get; init; }

    public long? Size { get; init; }

    /// <summary>Who made the change (pusher, deleter, build owner); null for anonymous or the server itself.</summary>
    public string? Actor { get; init; }

    public required DateTimeOffset At { get; init; }

    public ChangeRequest? Request { get; init; }

    public BuildNotice? Build { get; init; }

    /// <summary>The namespace a <see cref="WebhookScopeKind.Namespace"/> webhook names (the repository's first component; null for the root namespace).</summary>
    public string? Namespace => Repository.IndexOf('/') is var slash and > 0 ? Repository[..slash] : null;
}

/// <summary>The end of a build, for a <c>build</c> event.</summary>
public sealed record BuildNotice(
    Guid Id,
    string State,
    string Image,
    string Tag,
    string? Digest,
    string? ErrorKind,
    string? ErrorMessage,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt);
