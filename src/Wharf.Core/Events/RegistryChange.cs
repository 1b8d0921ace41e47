using System.Security.Claims;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Core.Events;

/// <summary>Who made a change and from where; both are null for changes the server makes itself.</summary>
public sealed record ChangeActor(string? Name, string? ClientAddress)
{
    /// <summary>The server itself (garbage collection, retention, migrations).</summary>
    public static readonly ChangeActor Server = new(null, null);

    public static ChangeActor From(ClaimsPrincipal caller, string? clientAddress) => new(caller.Username(), clientAddress);
}

/// <summary>What kind of change a <see cref="RegistryChange"/> is: the word audit records and webhooks carry.</summary>
public enum RegistryChangeKind
{
    ManifestPushed,
    ManifestDeleted,
    TagDeleted,
    BlobDeleted,
    RepositoryCreated,
    RepositoryUpdated,
    RepositoryVisibilityChanged,
    RepositoryDeleted,
}

/// <summary>
/// One change to the registry, whichever surface made it (<c>/v2</c>, <c>/api/v1</c>, the web UI, a build's push,
/// garbage collection). The use case that makes the change builds it, hands it to the metadata store with the write
/// (so a provider can journal it in the same transaction) and, once the write is committed, publishes it through
/// <see cref="RegistryEvents"/>.
/// </summary>
public abstract record RegistryChange(string Repository, ChangeActor Actor, DateTimeOffset At)
{
    public abstract RegistryChangeKind Kind { get; }

    /// <summary>What the change names, as the audit log shows it: <c>repo</c>, <c>repo:tag</c> or <c>repo@digest</c>.</summary>
    public abstract string Target { get; }

    /// <summary>Whether this change deletes something (every delete is audited).</summary>
    public bool IsDelete => Kind is RegistryChangeKind.ManifestDeleted or RegistryChangeKind.TagDeleted or RegistryChangeKind.BlobDeleted or RegistryChangeKind.RepositoryDeleted;
}

/// <summary>
/// A manifest was stored and <see cref="Tags"/> now point at it (a tag that pointed elsewhere has moved).
/// <see cref="Reference"/> is what the client pushed to: a tag or the digest.
/// </summary>
public sealed record ManifestPushed(string Repository, Digest Digest, ParsedManifest Manifest, string Reference, IReadOnlyList<string> Tags, ChangeActor Actor, DateTimeOffset At)
    : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.ManifestPushed;

    public override string Target => Reference.Contains(':', StringComparison.Ordinal) ? $"{Repository}@{Reference}" : $"{Repository}:{Reference}";
}

/// <summary>A manifest and every tag that pointed at it were deleted.</summary>
public sealed record ManifestDeleted(string Repository, Digest Digest, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.ManifestDeleted;

    public override string Target => $"{Repository}@{Digest}";
}

/// <summary>A tag was deleted; the manifest it pointed at stays.</summary>
public sealed record TagDeleted(string Repository, string Tag, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.TagDeleted;

    public override string Target => $"{Repository}:{Tag}";
}

/// <summary>A repository's link to a blob was removed (the blob itself is left to garbage collection).</summary>
public sealed record BlobDeleted(string Repository, Digest Digest, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.BlobDeleted;

    public override string Target => $"{Repository}@{Digest}";
}

/// <summary>A repository was created explicitly (<c>POST /api/v1/repositories</c>); one created by its first push is a <see cref="ManifestPushed"/>.</summary>
public sealed record RepositoryCreated(string Repository, RepositoryVisibility Visibility, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.RepositoryCreated;

    public override string Target => Repository;
}

/// <summary>A repository's description or README changed (and its visibility, when <see cref="Visibility"/> is set).</summary>
public sealed record RepositoryUpdated(string Repository, bool DescriptionChanged, bool ReadmeChanged, RepositoryVisibility? Visibility, ChangeActor Actor, DateTimeOffset At)
    : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.RepositoryUpdated;

    public override string Target => Repository;
}

/// <summary>A repository became public or private.</summary>
public sealed record RepositoryVisibilityChanged(string Repository, RepositoryVisibility Visibility, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.RepositoryVisibilityChanged;

    public override string Target => Repository;
}

/// <summary>A repository was deleted with its tags, manifests and blob links.</summary>
public sealed record RepositoryDeleted(string Repository, ChangeActor Actor, DateTimeOffset At) : RegistryChange(Repository, Actor, At)
{
    public override RegistryChangeKind Kind => RegistryChangeKind.RepositoryDeleted;

    public override string Target => Repository;
}
