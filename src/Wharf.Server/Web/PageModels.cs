using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Repositories;

namespace Wharf.Server.Web;

public sealed record ErrorModel(int Status, string Heading, string Message);

public sealed record HomeModel(IReadOnlyList<SearchHit> Recent, IReadOnlyList<SearchHit> Popular);

public sealed record SearchModel(string Query, IReadOnlyList<SearchHit> Hits, string? NextCursor, bool IsFirstPage, string? Error);

public sealed record NamespaceModel(string Namespace, string? Kind, IReadOnlyList<SearchHit> Repositories, string? NextCursor, bool IsFirstPage,
    IReadOnlyList<OrganizationMember>? Members, bool CanCreate);

/// <summary>A row of the tag table: the tag, and for a multi-platform tag one entry per platform.</summary>
public sealed record TagRow(TagDetails Tag, IReadOnlyList<ImagePlatform> Platforms);

/// <summary>The repository tabs' common part.</summary>
/// <summary>The repository tabs' common part; <see cref="CanDeleteTags"/> when the viewer may delete tags and the registry allows deletes.</summary>
public sealed record RepositoryHeader(RepositoryInfo Info, bool CanWrite, string Tab, bool CanDeleteTags = false)
{
    /// <summary>Tags are counted up to this many and one more; beyond it the pages say "1,000+ tags".</summary>
    public const int TagCountShown = 1000;

    /// <summary>"12 tags", "1 tag", or "1,000+ tags" for a repository with more than <see cref="TagCountShown"/>.</summary>
    public string TagCountText => Info.TagCount > TagCountShown
        ? $"{TagCountShown.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)}+ tags"
        : $"{Info.TagCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} {(Info.TagCount == 1 ? "tag" : "tags")}";
}

public sealed record RepositoryModel(RepositoryHeader Header, string? ReadmeHtml, (string Name, Wharf.Core.Digests.Digest Digest)? DefaultTag, IReadOnlyList<TagRow> RecentTags);

public sealed record TagsModel(RepositoryHeader Header, IReadOnlyList<TagRow> Rows, TagSort Sort, string? Filter, string? Platform, string? Cursor, string? NextCursor, string? Error);

public sealed record TagModel(RepositoryHeader Header, string Tag, ImageInspection Inspection, ImagePlatform? Selected);

public sealed record RepositorySettingsModel(RepositoryHeader Header, string? Description, string? Readme, string Visibility, bool CanChangeVisibility, bool DeleteEnabled, string? Error);

public sealed record NewRepositoryModel(IReadOnlyList<string> Namespaces, string? Namespace, string? Name, string Visibility, string? Description, string? Error);

public sealed record LoginModel(string? Username, string ReturnUrl, string? Error);

public sealed record SignUpModel(string? Username, string? Email, string? Error, string? Field);

public sealed record SettingsModel(
    string Tab,
    UserAccount User,
    IReadOnlyList<AccessTokenInfo> Tokens,
    IReadOnlyDictionary<string, OrganizationRole> Organizations,
    IReadOnlyList<StoredRegistryCredential> Credentials,
    CreatedAccessToken? CreatedToken,
    string? Error);

public sealed record OrganizationModel(OrganizationDetails Details, bool IsOwner, string? Error);

public sealed record BuildsModel(IReadOnlyList<BuildRecord> Builds, string? Repository, string? State, string? NextCursor, bool IsFirstPage, string? Error);

public sealed record BuildModel(BuildRecord Build, IReadOnlyList<BuildLogLine> Log, bool LogTruncated, bool MayRetry, bool MayCancel);

public sealed record NewBuildModel(string Source, string? Image, string? Dockerfile, string? BuildArgs, string? Target, string? Platform, string? DockerfilePath,
    IReadOnlyList<StoredRegistryCredential> Credentials, string? Error);

/// <summary>
/// <c>/admin</c>: which tab, and that tab's model (one of them is set). A new tab (such as GC runs and storage usage)
/// adds its name to <see cref="AdminTabs.All"/>, a model here and a component of its own.
/// </summary>
public sealed record AdminModel(string Tab, AdminUsersModel? Users = null, AdminAuditModel? Audit = null, AdminGcModel? Gc = null);

public sealed record AdminUsersModel(IReadOnlyList<UserSummary> Users, string? Cursor, string? NextCursor);

public sealed record AdminAuditModel(IReadOnlyList<AuditEvent> Events, string? NextCursor, bool IsFirstPage);

public sealed record AdminDeleteUserModel(UserSummary User, string? Error);

/// <summary>
/// The GC tab: the recorded collections (newest first), the stored blobs, the namespaces using the most, and (after the
/// administrator ran one from the tab) what that collection or dry run did. <see cref="Busy"/>: another collector held the lock.
/// </summary>
public sealed record AdminGcModel(
    IReadOnlyList<Wharf.Core.Gc.GcRun> Runs, Wharf.Core.Policies.StorageTotals Totals, IReadOnlyList<Wharf.Core.Policies.NamespaceUsage> Namespaces,
    Wharf.Core.Gc.GcReport? Report = null, bool Busy = false);
