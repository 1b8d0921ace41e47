using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using static Wharf.Data.StoredText;

namespace Wharf.Data;

// The rows the stores of every provider read (Dapper maps columns to these properties by name), with their models.
// Flags are bool: PostgreSQL returns boolean, SQLite's 0/1 integers convert.

internal sealed class ManifestRow
{
    public string Digest { get; set; } = "";
    public string MediaType { get; set; } = "";
    public byte[] Content { get; set; } = [];
    public string? ArtifactType { get; set; }
    public string? SubjectDigest { get; set; }
    public long PushedAt { get; set; }

    public StoredManifest ToModel() =>
        new(Core.Digests.Digest.Parse(Digest), MediaType, Content, ArtifactType, SubjectDigest is null ? null : Core.Digests.Digest.Parse(SubjectDigest), Time(PushedAt));
}

internal sealed class ManifestKeyRow
{
    public long Id { get; set; }
    public long RepositoryId { get; set; }
}

internal sealed class ReferrerRow
{
    public string Digest { get; set; } = "";
    public string MediaType { get; set; } = "";
    public long Size { get; set; }
    public string? ArtifactType { get; set; }
    public string? Annotations { get; set; }

    public Referrer ToModel() => new(Core.Digests.Digest.Parse(Digest), MediaType, Size, ArtifactType, Annotations);
}

internal sealed class RepositoryRow
{
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
    public string? Visibility { get; set; }
    public string? Description { get; set; }
    public string? Readme { get; set; }
    public long CreatedAt { get; set; }
    public long? UpdatedAt { get; set; }
    public long PushCount { get; set; }
    public long PullCount { get; set; }
    public long? LastPushedAt { get; set; }
    public long? LastPulledAt { get; set; }
    public long TagCount { get; set; }

    public RepositoryInfo ToModel() =>
        new(Name, Namespace, ParseVisibility(Visibility), Description, Readme, Time(CreatedAt), TimeOrNull(UpdatedAt), PushCount, PullCount,
            TimeOrNull(LastPushedAt), TimeOrNull(LastPulledAt), TagCount);
}

internal sealed class TagRow
{
    public string Name { get; set; } = "";
    public string Digest { get; set; } = "";
    public string MediaType { get; set; } = "";
    public long? Size { get; set; }
    public string? Platforms { get; set; }
    public long PushedAt { get; set; }
    public long? LastPulledAt { get; set; }

    public TagDetails ToModel() => new(Name, Core.Digests.Digest.Parse(Digest), MediaType, Size, SplitPlatforms(Platforms), Time(PushedAt), TimeOrNull(LastPulledAt));
}

internal sealed class HitRow
{
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
    public string? Visibility { get; set; }
    public string? Description { get; set; }
    public long PullCount { get; set; }
    public long? LastPushedAt { get; set; }
    public long CreatedAt { get; set; }
    public long? UpdatedAt { get; set; }
    public long Tier { get; set; }

    public SearchHit ToModel() => new(Name, Namespace, ParseVisibility(Visibility), Description, PullCount, TimeOrNull(LastPushedAt), Time(CreatedAt), TimeOrNull(UpdatedAt));
}

internal sealed class DetailsRow
{
    public string Digest { get; set; } = "";
    public long Size { get; set; }
    public string? Platforms { get; set; }
    public string? Labels { get; set; }

    public ManifestDetails ToModel() => new(Size, SplitPlatforms(Platforms), ParseLabels(Labels));
}

internal sealed class UserRow
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public string? Email { get; set; }
    public string PasswordHash { get; set; } = "";
    public bool IsAdmin { get; set; }
    public long CreatedAt { get; set; }
    public long CredentialVersion { get; set; }
    public long? DisabledAt { get; set; }
    public long? LoginsUnlockedAt { get; set; }

    public UserAccount ToModel() => new(Id, Name, Email, PasswordHash, IsAdmin, Time(CreatedAt), CredentialVersion, TimeOrNull(DisabledAt), TimeOrNull(LoginsUnlockedAt));
}

internal sealed class TokenRow
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public string Name { get; set; } = "";
    public string Prefix { get; set; } = "";
    public string Scopes { get; set; } = "";
    public long CreatedAt { get; set; }
    public long? ExpiresAt { get; set; }
    public long? LastUsedAt { get; set; }

    public AccessTokenInfo ToModel() => new(Id, UserId, Name, Prefix, ParseScopes(Scopes), Time(CreatedAt), TimeOrNull(ExpiresAt), TimeOrNull(LastUsedAt));
}

internal sealed class RefreshRow
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public long? AccessTokenId { get; set; }
    public string? AccessTokenName { get; set; }
    public string Scopes { get; set; } = "";
    public long CredentialVersion { get; set; }
    public string ClientId { get; set; } = "";
    public string? ClientAddress { get; set; }
    public long CreatedAt { get; set; }
    public long ExpiresAt { get; set; }
    public long? LastUsedAt { get; set; }

    /// <summary>Whether the credential the session was made with still works (the password, or an unrevoked token).</summary>
    public bool CredentialAlive { get; set; }

    public RefreshTokenInfo ToModel() => new(Id, UserId, AccessTokenId, AccessTokenName, ParseScopes(Scopes), CredentialVersion, ClientId, ClientAddress,
        Time(CreatedAt), Time(ExpiresAt), TimeOrNull(LastUsedAt));
}

internal sealed class OrgRow
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public long CreatedAt { get; set; }
}

internal sealed class MemberRow
{
    public string Username { get; set; } = "";
    public string Role { get; set; } = "";
    public long AddedAt { get; set; }
}

internal sealed class AuditRow
{
    public long Id { get; set; }
    public long At { get; set; }
    public string? Actor { get; set; }
    public string? ClientAddress { get; set; }
    public string Action { get; set; } = "";
    public string? Target { get; set; }
    public bool Success { get; set; }
    public string? Detail { get; set; }

    public AuditEvent ToModel() => new(Id, Time(At), Actor, ClientAddress, Action, Target, Success, Detail);
}

internal sealed class BlobRow
{
    public string Digest { get; set; } = "";
    public long Size { get; set; }

    public Wharf.Core.Gc.GcBlob ToModel() => new(Wharf.Core.Digests.Digest.Parse(Digest), Size);
}

internal sealed class ManifestNameRow
{
    public string Repository { get; set; } = "";
    public string Digest { get; set; } = "";
}

internal sealed class GcRunRow
{
    public long Id { get; set; }
    public long StartedAt { get; set; }
    public long? FinishedAt { get; set; }
    public bool DryRun { get; set; }
    public string Trigger { get; set; } = "";
    public long BlobsDeleted { get; set; }
    public long BytesFreed { get; set; }
    public long ManifestsDeleted { get; set; }
    public long UploadsExpired { get; set; }
    public long TagsDeleted { get; set; }
    public string? Error { get; set; }

    public Wharf.Core.Gc.GcRun ToModel() => new(
        Id, DateTimeOffset.FromUnixTimeMilliseconds(StartedAt), FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
        DryRun, Trigger, BlobsDeleted, BytesFreed, ManifestsDeleted, UploadsExpired, Error)
    {
        TagsDeleted = TagsDeleted,
    };
}

internal sealed class RetentionRow
{
    public string Name { get; set; } = "";
    public long? KeepLast { get; set; }
    public long? KeepPulledDays { get; set; }
    public string? KeepMatching { get; set; }
    public string? ImmutableTags { get; set; }

    public Wharf.Core.Retention.RetentionPolicy ToPolicy() => new((int?)KeepLast, (int?)KeepPulledDays, KeepMatching);
}

internal sealed class RetainedTagRow
{
    public string Name { get; set; } = "";
    public string Digest { get; set; } = "";
    public long UpdatedAt { get; set; }
    public long? LastPulledAt { get; set; }

    public Wharf.Core.Retention.RetainedTag ToModel() => new(
        Name, Wharf.Core.Digests.Digest.Parse(Digest), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
        LastPulledAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null);
}

internal sealed class StoredPatterns
{
    public string? Patterns { get; set; }
}

internal sealed class UsageRow
{
    public long? Quota { get; set; }
    public long Used { get; set; }
    public long Blobs { get; set; }
    public long Repositories { get; set; }
}

internal sealed class NamespaceUsageRow
{
    public string Namespace { get; set; } = "";
    public long? Quota { get; set; }
    public long Used { get; set; }
    public long Blobs { get; set; }
    public long Repositories { get; set; }
}

internal sealed class StorageTotalsRow
{
    public long Blobs { get; set; }
    public long Bytes { get; set; }
}

internal sealed class NeedRow
{
    public long Used { get; set; }
    public long Needed { get; set; }
}
