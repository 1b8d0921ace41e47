using System.Security.Claims;
using System.Text;
using Wharf.Core.Accounts;
using Wharf.Core.Events;
using Wharf.Core.References;
using Wharf.Core.Registry;
using Wharf.Core.Search;

namespace Wharf.Core.Repositories;

/// <summary>
/// The repository use cases of <c>/api/v1/repositories</c> and search: create, read, update, delete, tag listings,
/// listings and search, each limited to what the caller may read or change (DESIGN §6): reading needs pull access
/// (an unreadable repository is "not found", so private names do not leak); changing and deleting need push access
/// to the namespace (its owner or a maintainer). Every create, change and delete is a <see cref="RegistryChange"/>
/// published through <see cref="RegistryEvents"/> (so it is audited, and journaled with the write).
/// </summary>
public sealed class RepositoryService(
    IRepositoryStore store,
    RegistryService registry,
    ManifestCache cache,
    ICallerAccess callerAccess,
    RepositoryOptions options,
    RepositoryVisibility defaultVisibility,
    RegistryEvents events,
    RepositoryPermissions? permissions = null,
    IReadmeCheck? readmeCheck = null,
    Func<string, RepositoryVisibility>? defaultVisibilityFor = null,
    Proxy.ICachedRepositoryStore? cachedRepositories = null)
{
    public RepositoryOptions Options => options;

    public async ValueTask<RepositoryResult<RepositoryInfo>> CreateAsync(
        RequestOrigin origin, string? @namespace, string? name, RepositoryVisibility? visibility, string? description, string? readme, CancellationToken cancellationToken)
    {
        // No namespace: a one-component name such as 'busybox' (the root namespace), which a push creates too; only
        // administrators may write there, so create and push agree on who may.
        var root = string.IsNullOrEmpty(@namespace);
        if (!root && (@namespace!.Contains('/') || !RepositoryName.IsValid(@namespace)))
        {
            return Invalid($"'{@namespace}' is not a valid namespace: lower-case letters and digits, optionally joined by '.', '_', '__' or '-'.");
        }
        if (string.IsNullOrEmpty(name) || !RepositoryName.IsValid(name)) return Invalid(NameProblem(name));
        if (root && name.Contains('/')) return Invalid($"Give the namespace of '{name}' in namespace and the rest in name.");
        var repository = root ? name : @namespace + "/" + name;
        if (!RepositoryName.IsValid(repository)) return Invalid(NameProblem(repository));
        if (TextProblem(description, readme) is { } problem) return problem;
        var access = await callerAccess.GetAsync(origin.Caller, cancellationToken);
        if (!access.CanWrite(repository))
        {
            return Refuse(access, root
                ? $"Only administrators may create one-component names such as '{name}'; create {access.Username ?? "NAMESPACE"}/{name} instead."
                : $"You may not create repositories in '{@namespace}'.");
        }
        var change = new RepositoryCreated(repository, visibility ?? defaultVisibilityFor?.Invoke(repository) ?? defaultVisibility, Actor(origin), events.Now);
        var outcome = await store.CreateAsync(repository, change.Visibility, description, readme, change, cancellationToken);
        if (outcome == CreateRepositoryOutcome.Exists) return new RepositoryError(RepositoryProblem.Conflict, $"The repository '{repository}' already exists.");
        permissions?.InvalidateRepository(repository);
        await events.PublishAsync(change);
        return (await store.GetAsync(repository, defaultVisibility, cancellationToken))!;
    }

    public async ValueTask<RepositoryResult<RepositoryInfo>> GetAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken)
    {
        var (info, _, error) = await ReadableAsync(caller, repository, null, cancellationToken);
        return error is null ? await WithUpstreamAsync(info!, cancellationToken) : error;
    }

    /// <summary>The repository with its tags counted only up to <paramref name="tagCountLimit"/> (a page showing "1,000+ tags").</summary>
    public async ValueTask<RepositoryResult<RepositoryInfo>> GetAsync(ClaimsPrincipal caller, string repository, int tagCountLimit, CancellationToken cancellationToken)
    {
        var (info, _, error) = await ReadableAsync(caller, repository, tagCountLimit, cancellationToken);
        return error is null ? await WithUpstreamAsync(info!, cancellationToken) : error;
    }

    /// <summary>The repository marked with its upstream when a pull-through cache filled it.</summary>
    private async ValueTask<RepositoryInfo> WithUpstreamAsync(RepositoryInfo info, CancellationToken cancellationToken) =>
        cachedRepositories is not null && await cachedRepositories.GetUpstreamAsync(info.Name, cancellationToken) is { } upstream
            ? info with { CachedFrom = upstream }
            : info;

    public async ValueTask<RepositoryResult<RepositoryInfo>> UpdateAsync(RequestOrigin origin, string repository, RepositoryUpdate update, CancellationToken cancellationToken)
    {
        if (TextProblem(update.Description, update.Readme) is { } problem) return problem;
        var (_, access, error) = await ReadableAsync(origin.Caller, repository, NoTagCount, cancellationToken);
        if (error is not null) return error;
        if (!access!.CanWrite(repository)) return Refuse(access, $"You may not change '{repository}'.");
        if (update.Visibility is not null && access.Username is not null && !origin.Caller.CanManageAccount())
        {
            return new RepositoryError(RepositoryProblem.Forbidden, "Changing visibility needs a password or a personal access token with the admin scope.");
        }
        RegistryChange change = update.Description is null && update.Readme is null && update.Visibility is { } visibility
            ? new RepositoryVisibilityChanged(repository, visibility, Actor(origin), events.Now)
            : new RepositoryUpdated(repository, update.Description is not null, update.Readme is not null, update.Visibility, Actor(origin), events.Now);
        if (!await store.UpdateAsync(repository, update, change, cancellationToken)) return NotFound(repository);
        if (update.Visibility is not null) permissions?.InvalidateRepository(repository);
        await events.PublishAsync(change);
        return (await store.GetAsync(repository, defaultVisibility, cancellationToken))!;
    }

    public async ValueTask<RepositoryResult<bool>> DeleteAsync(RequestOrigin origin, string repository, CancellationToken cancellationToken)
    {
        var (_, access, error) = await ReadableAsync(origin.Caller, repository, NoTagCount, cancellationToken);
        if (error is not null) return error;
        if (!access!.CanDelete(repository)) return Refuse(access, $"You may not delete '{repository}'.");
        if (!registry.Options.DeleteEnabled) return new RepositoryError(RepositoryProblem.Disabled, "Deleting is disabled on this registry.");
        var change = new RepositoryDeleted(repository, Actor(origin), events.Now);
        var deleted = await store.DeleteAsync(repository, change, cancellationToken);
        switch (deleted.Status)
        {
            case DeleteStatus.NotFound: return NotFound(repository);
            case DeleteStatus.ImmutableTag:
                return new RepositoryError(RepositoryProblem.Forbidden,
                    $"'{repository}' holds the immutable tag '{deleted.Tag}' (rule '{deleted.Rule}'), which cannot be deleted: so neither can the repository.");
        }
        foreach (var digest in deleted.Manifests) cache.InvalidateManifest(repository, digest);
        permissions?.InvalidateRepository(repository);
        await events.PublishAsync(change);
        return true;
    }

    public async ValueTask<RepositoryResult<CursorPage<TagDetails>>> ListTagsAsync(ClaimsPrincipal caller, string repository, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!TryPage(limit, cursor, out var size, out var after, out var pageError)) return pageError!;
        var (_, _, error) = await ReadableAsync(caller, repository, NoTagCount, cancellationToken);
        if (error is not null) return error;
        var tags = await store.ListTagsAsync(repository, after, size + 1, cancellationToken);
        return Page(tags, size, t => t.Name);
    }

    /// <summary>
    /// A page of the tag table: sorted, filtered by a name substring and a platform, and paged with an opaque keyset
    /// cursor (so a page costs the same at 100,000 tags as at ten).
    /// </summary>
    public async ValueTask<RepositoryResult<CursorPage<TagDetails>>> QueryTagsAsync(
        ClaimsPrincipal caller, string repository, TagSort sort, string? nameContains, string? platform, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.DefaultPageSize, options.MaxPageSize);
        if (limit is < 1) return Invalid("limit must be at least 1.");
        TagCursor? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (!TagCursor.TryDecode(cursor, sort, out var decoded)) return Invalid("cursor is not one this server issued for this order.");
            after = decoded;
        }
        if (nameContains is { Length: > RepositoryName.MaxTagLength }) return Invalid($"The tag filter is longer than {RepositoryName.MaxTagLength} characters.");
        if (platform is { Length: > 100 }) return Invalid("The platform filter is longer than 100 characters.");
        var (_, _, error) = await ReadableAsync(caller, repository, NoTagCount, cancellationToken);
        if (error is not null) return error;
        var tags = await store.QueryTagsAsync(repository, new TagQuery(sort, NullIfEmpty(nameContains), NullIfEmpty(platform), after, size + 1), cancellationToken);
        if (tags.Count <= size) return new CursorPage<TagDetails>(tags, null);
        var last = tags[size - 1];
        return new CursorPage<TagDetails>(tags.Take(size).ToList(), new TagCursor(sort, last.PushedAt.ToUnixTimeMilliseconds(), last.Name).Encode());
    }

    /// <summary>Repositories the caller may read (optionally of one visibility), most recently pushed first.</summary>
    public async ValueTask<IReadOnlyList<SearchHit>> RecentlyPushedAsync(ClaimsPrincipal caller, RepositoryVisibility? visibility, int limit, CancellationToken cancellationToken)
    {
        var filter = await FilterAsync(caller, cancellationToken);
        return await MarkCachedAsync(await store.ListRecentlyPushedAsync(filter, visibility, Math.Clamp(limit, 1, options.MaxPageSize), cancellationToken), cancellationToken);
    }

    public async ValueTask<RepositoryResult<bool>> DeleteTagAsync(RequestOrigin origin, string repository, string tag, CancellationToken cancellationToken)
    {
        if (!RepositoryName.IsValidTag(tag)) return Invalid($"'{Shorten(tag)}' is not a valid tag: at most {RepositoryName.MaxTagLength} of [A-Za-z0-9_.-], not starting with '.' or '-'.");
        var (_, access, error) = await ReadableAsync(origin.Caller, repository, NoTagCount, cancellationToken);
        if (error is not null) return error;
        if (!access!.CanDelete(repository)) return Refuse(access, $"You may not delete tags of '{repository}'.");
        var result = await registry.DeleteManifestAsync(repository, ManifestReference.ForTag(tag), Actor(origin), cancellationToken);
        if (result.IsOk) return true;
        return result.Error!.Code switch
        {
            RegistryErrorCode.Unsupported => new RepositoryError(RepositoryProblem.Disabled, result.Error.Message),
            RegistryErrorCode.Denied => new RepositoryError(RepositoryProblem.Forbidden, result.Error.Message),
            _ => new RepositoryError(RepositoryProblem.NotFound, $"The repository '{repository}' has no tag '{tag}'."),
        };
    }

    /// <summary>Repositories the caller may read, optionally of one namespace, in name order.</summary>
    public async ValueTask<RepositoryResult<CursorPage<SearchHit>>> ListAsync(ClaimsPrincipal caller, string? @namespace, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!TryPage(limit, cursor, out var size, out var after, out var pageError)) return pageError!;
        var filter = await FilterAsync(caller, cancellationToken);
        var hits = await MarkCachedAsync(await store.ListAsync(filter, NullIfEmpty(@namespace), after, size + 1, cancellationToken), cancellationToken);
        return Page(hits, size, h => h.Name);
    }

    /// <summary>The <c>/v2/_catalog</c> page: names the caller may pull, after <paramref name="last"/>; whether more follow.</summary>
    public async ValueTask<(IReadOnlyList<string> Names, bool HasMore)> CatalogAsync(ClaimsPrincipal caller, int size, string? last, CancellationToken cancellationToken)
    {
        if (size <= 0) return ([], false);
        var filter = await FilterAsync(caller, cancellationToken);
        var names = await store.ListNamesAsync(filter, last, size + 1, cancellationToken);
        return names.Count > size ? (names.Take(size).ToList(), true) : (names, false);
    }

    /// <summary>
    /// Ranked search; the cursor is the offset of the next page. Without words (<paramref name="q"/> missing or blank)
    /// it browses instead: every repository the caller may read, most pulled first, with a keyset cursor.
    /// </summary>
    public async ValueTask<RepositoryResult<CursorPage<SearchHit>>> SearchAsync(
        ClaimsPrincipal caller, string? q, string? @namespace, RepositoryVisibility? visibility, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.DefaultPageSize, options.MaxPageSize);
        if (limit is < 1) return Invalid("limit must be at least 1.");
        if (string.IsNullOrWhiteSpace(q)) return await BrowseAsync(caller, @namespace, visibility, size, cursor, cancellationToken);
        var query = SearchQuery.Parse(q);
        if (query.IsEmpty) return Invalid("q has no words to search for: use letters or digits, or leave q out to list every repository.");
        var offset = 0;
        if (!string.IsNullOrEmpty(cursor) && !TryDecodeOffset(cursor, out offset)) return Invalid("cursor is not one this server issued.");
        var filter = await FilterAsync(caller, cancellationToken);
        var hits = await MarkCachedAsync(await store.SearchAsync(query, filter, NullIfEmpty(@namespace), visibility, offset, size + 1, cancellationToken), cancellationToken);
        if (hits.Count <= size) return new CursorPage<SearchHit>(hits, null);
        return new CursorPage<SearchHit>(hits.Take(size).ToList(), EncodeOffset(offset + size));
    }

    private async ValueTask<RepositoryResult<CursorPage<SearchHit>>> BrowseAsync(
        ClaimsPrincipal caller, string? @namespace, RepositoryVisibility? visibility, int size, string? cursor, CancellationToken cancellationToken)
    {
        BrowsePosition? after = null;
        if (!string.IsNullOrEmpty(cursor) && !TryDecodeBrowsePosition(cursor, out after)) return Invalid("cursor is not one this server issued.");
        var filter = await FilterAsync(caller, cancellationToken);
        var hits = await MarkCachedAsync(await store.BrowseAsync(filter, NullIfEmpty(@namespace), visibility, after, size + 1, cancellationToken), cancellationToken);
        if (hits.Count <= size) return new CursorPage<SearchHit>(hits, null);
        var last = hits[size - 1];
        return new CursorPage<SearchHit>(hits.Take(size).ToList(), EncodeBrowsePosition(new BrowsePosition(last.PullCount, last.Name)));
    }

    /// <summary>Docker Hub's v1 search: one page (1-based) of <paramref name="pageSize"/> hits, and the number of matches.</summary>
    public async ValueTask<(IReadOnlyList<SearchHit> Hits, int Total)> DockerSearchAsync(ClaimsPrincipal caller, string? q, int pageSize, int page, CancellationToken cancellationToken)
    {
        var query = SearchQuery.Parse(q);
        if (query.IsEmpty) return ([], 0);
        var filter = await FilterAsync(caller, cancellationToken);
        var total = await store.CountSearchAsync(query, filter, cancellationToken);
        var offset = (long)(page - 1) * pageSize;
        if (offset >= total) return ([], total);
        var hits = await MarkCachedAsync(await store.SearchAsync(query, filter, null, null, (int)offset, pageSize, cancellationToken), cancellationToken);
        return (hits, total);
    }

    /// <summary>Marks the hits that a pull-through cache filled with their upstream (one query per page).</summary>
    private async ValueTask<IReadOnlyList<SearchHit>> MarkCachedAsync(IReadOnlyList<SearchHit> hits, CancellationToken cancellationToken)
    {
        if (cachedRepositories is null || hits.Count == 0) return hits;
        var upstreams = await cachedRepositories.GetUpstreamsAsync(hits.Select(h => h.Name).ToList(), cancellationToken);
        if (upstreams.Count == 0) return hits;
        return hits.Select(h => upstreams.TryGetValue(h.Name, out var upstream) ? h with { CachedFrom = upstream } : h).ToList();
    }

    private async ValueTask<ReadFilter> FilterAsync(ClaimsPrincipal caller, CancellationToken cancellationToken) =>
        new(await callerAccess.GetAsync(caller, cancellationToken), defaultVisibility);

    /// <summary>For callers that only check the repository and who may read it: its tags are not counted.</summary>
    private const int NoTagCount = 0;

    /// <summary>The repository, when the caller may read it; its tags counted up to <paramref name="tagCountLimit"/> (null: all).</summary>
    private async ValueTask<(RepositoryInfo? Info, CallerAccess? Access, RepositoryError? Error)> ReadableAsync(ClaimsPrincipal caller, string repository, int? tagCountLimit, CancellationToken cancellationToken)
    {
        if (!RepositoryName.IsValid(repository)) return (null, null, Invalid(NameProblem(repository)));
        var info = tagCountLimit is { } limit
            ? await store.GetAsync(repository, defaultVisibility, limit, cancellationToken)
            : await store.GetAsync(repository, defaultVisibility, cancellationToken);
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (info is null || !access.CanRead(repository, info.Visibility))
        {
            // Unreadable is "not found", unless signing in could help.
            return (null, access, access.Username is null && !access.IsAdmin && info is not null
                ? new RepositoryError(RepositoryProblem.Unauthenticated, "Sign in to see this repository.")
                : NotFound(repository));
        }
        return (info, access, null);
    }

    private bool TryPage(int? limit, string? cursor, out int size, out string? after, out RepositoryError? error)
    {
        size = Math.Min(limit ?? options.DefaultPageSize, options.MaxPageSize);
        after = null;
        error = null;
        if (limit is < 1)
        {
            error = Invalid("limit must be at least 1.");
            return false;
        }
        if (string.IsNullOrEmpty(cursor)) return true;
        try
        {
            after = Encoding.UTF8.GetString(Base64Url.Decode(cursor));
            return true;
        }
        catch (FormatException)
        {
            error = Invalid("cursor is not one this server issued.");
            return false;
        }
    }

    private static CursorPage<T> Page<T>(IReadOnlyList<T> items, int size, Func<T, string> key) =>
        items.Count <= size
            ? new CursorPage<T>(items, null)
            : new CursorPage<T>(items.Take(size).ToList(), Base64Url.Encode(Encoding.UTF8.GetBytes(key(items[size - 1]))));

    private static string EncodeOffset(int offset) => Base64Url.Encode(Encoding.UTF8.GetBytes("o:" + offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static bool TryDecodeOffset(string cursor, out int offset)
    {
        offset = 0;
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.Decode(cursor));
            return text.StartsWith("o:", StringComparison.Ordinal)
                && int.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out offset)
                && offset <= 100_000;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string EncodeBrowsePosition(BrowsePosition position) =>
        Base64Url.Encode(Encoding.UTF8.GetBytes("b:" + position.PullCount.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + position.Name));

    private static bool TryDecodeBrowsePosition(string cursor, out BrowsePosition? position)
    {
        position = null;
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.Decode(cursor));
            if (!text.StartsWith("b:", StringComparison.Ordinal)) return false;
            var colon = text.IndexOf(':', 2);
            if (colon < 0
                || !long.TryParse(text.AsSpan(2, colon - 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pulls)
                || !RepositoryName.IsValid(text[(colon + 1)..]))
            {
                return false;
            }
            position = new BrowsePosition(pulls, text[(colon + 1)..]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private RepositoryError? TextProblem(string? description, string? readme)
    {
        if (description is not null && description.Length > options.MaxDescriptionLength) return Invalid($"description is longer than {options.MaxDescriptionLength} characters.");
        if (readme is not null && readme.Length > options.MaxReadmeLength) return Invalid($"readme is longer than {options.MaxReadmeLength} characters.");
        if (readme is { Length: > 0 } && readmeCheck?.Problem(readme) is { } readmeProblem) return Invalid(readmeProblem);
        return null;
    }

    private static RepositoryError Refuse(CallerAccess access, string detail) =>
        access.Username is null && !access.IsAdmin
            ? new RepositoryError(RepositoryProblem.Unauthenticated, "Sign in first. " + detail)
            : new RepositoryError(RepositoryProblem.Forbidden, detail);

    private static RepositoryError Invalid(string detail) => new(RepositoryProblem.Invalid, detail);

    private static ChangeActor Actor(RequestOrigin origin) => ChangeActor.From(origin.Caller, origin.ClientAddress);

    private static RepositoryError NotFound(string repository) => new(RepositoryProblem.NotFound, $"No repository '{repository}'.");

    private static string NameProblem(string? name) =>
        $"'{Shorten(name)}' is not a valid repository name: lower-case letters, digits and separators ('.', '_', '__', '-'), components joined by '/', at most {RepositoryName.MaxLength} characters.";

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 64 ? text : text[..64] + "…";

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}

/// <summary>Base64url without padding, for opaque cursors.</summary>
internal static class Base64Url
{
    public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Decode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s += (s.Length % 4) switch { 2 => "==", 3 => "=", 0 => "", _ => throw new FormatException("bad length") };
        return Convert.FromBase64String(s);
    }
}
