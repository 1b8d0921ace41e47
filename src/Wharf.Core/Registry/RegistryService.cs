using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Manifests;
using Wharf.Core.References;

namespace Wharf.Core.Registry;

/// <summary>
/// The manifest operations of the distribution API: push, pull, delete, list, referrers. Every push and delete is a
/// <see cref="RegistryChange"/>: handed to the store with the write and published through <see cref="RegistryEvents"/>
/// once it is committed.
/// </summary>
public sealed class RegistryService(IRegistryStore store, ManifestCache cache, RegistryOptions options, RegistryEvents events)
{
    public RegistryOptions Options => options;

    /// <summary>Counts a manifest served by GET (in memory; see <see cref="IRegistryPullHandler"/>).</summary>
    public void RecordPull(string repository, ManifestReference reference) => events.ManifestPulled(repository, reference.Tag);

    /// <summary>Resolves a tag or digest to the stored manifest.</summary>
    public async ValueTask<RegistryResult<StoredManifest>> GetManifestAsync(string repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        Digest digest;
        if (reference.IsDigest)
        {
            digest = reference.Digest!.Value;
        }
        else if (!cache.TryGetTag(repository, reference.Tag!, out digest))
        {
            var version = cache.Version;
            var resolved = await store.ResolveTagAsync(repository, reference.Tag!, cancellationToken);
            if (resolved is null) return RegistryError.ManifestUnknown(reference.ToString());
            digest = resolved.Value;
            cache.SetTag(repository, reference.Tag!, digest, version);
        }
        if (cache.TryGetManifest(repository, digest, out var cached)) return cached;
        var manifest = await store.GetManifestAsync(repository, digest, cancellationToken);
        if (manifest is null) return RegistryError.ManifestUnknown(reference.ToString());
        cache.SetManifest(repository, manifest);
        return manifest;
    }

    /// <summary>The outcome of a manifest push.</summary>
    public sealed record PushedManifest(Digest Digest, Digest? Subject, IReadOnlyList<string> Tags, bool IsIndex = false);

    /// <summary>
    /// Validates and stores a manifest pushed to <c>/v2/&lt;name&gt;/manifests/&lt;reference&gt;</c>, tagging it with the
    /// reference's tag or with <paramref name="extraTags"/> (the <c>tag</c> query parameters of a push by digest).
    /// </summary>
    public async ValueTask<RegistryResult<PushedManifest>> PutManifestAsync(
        string repository, ManifestReference reference, byte[] content, string? contentType, IReadOnlyList<string> extraTags, ChangeActor actor, CancellationToken cancellationToken)
    {
        var parsed = ManifestParser.Parse(content, contentType);
        if (!parsed.IsValid) return RegistryError.ManifestInvalid(parsed.Error!);
        var manifest = parsed.Manifest!;
        var algorithm = reference.IsDigest ? reference.Digest!.Value.Algorithm : Digest.Sha256;
        var digest = Digest.Compute(content, algorithm);
        if (reference.IsDigest && digest != reference.Digest!.Value)
        {
            return RegistryError.DigestInvalid($"The manifest's digest is {digest}, not {reference.Digest}.");
        }
        var tags = new List<string>();
        if (!reference.IsDigest) tags.Add(reference.Tag!);
        foreach (var tag in extraTags)
        {
            if (!RepositoryName.IsValidTag(tag)) return RegistryError.ManifestInvalid($"'{tag}' is not a valid tag.");
            if (!tags.Contains(tag, StringComparer.Ordinal)) tags.Add(tag);
        }
        var change = new ManifestPushed(repository, digest, manifest, reference.ToString(), tags, actor, events.Now);
        var result = await store.PutManifestAsync(repository, new NewManifest(digest, manifest.MediaType, content, manifest), tags, change, cancellationToken);
        switch (result.Status)
        {
            case PutManifestStatus.MissingReference:
                return RegistryError.ManifestBlobUnknown(result.Missing!.Value.ToString());
            case PutManifestStatus.ImmutableTag:
                return ImmutableTag(repository, result.Tag!, result.Rule!, "moved");
            case PutManifestStatus.QuotaExceeded:
                var ns = repository.Split('/')[0];
                return new RegistryError(RegistryErrorCode.Denied,
                    $"Storage quota of namespace '{ns}' exceeded: quota {Bytes(result.Quota)}, usage {Bytes(result.Usage)}, this push needs {Bytes(result.Needed)} more.",
                    403, new { @namespace = ns, quota = result.Quota, usage = result.Usage, needed = result.Needed });
        }
        foreach (var tag in tags) cache.InvalidateTag(repository, tag);
        await events.PublishAsync(change);
        return new PushedManifest(digest, manifest.Subject?.Digest, tags, manifest.IsIndex);
    }

    /// <summary>
    /// Stores a manifest that a pull-through cache fetched from its upstream, before the blobs and child manifests it
    /// names (they are fetched when asked for), tagged with the reference's tag. The bytes are kept exactly as the
    /// upstream sent them; they must parse, and hash to <paramref name="expected"/> when the upstream named a digest.
    /// Announced as a push by the server itself.
    /// </summary>
    public async ValueTask<RegistryResult<StoredManifest>> PutCachedManifestAsync(
        string repository, ManifestReference reference, byte[] content, string? contentType, Digest? expected, CancellationToken cancellationToken)
    {
        var parsed = ManifestParser.Parse(content, contentType);
        if (!parsed.IsValid) return RegistryError.ManifestInvalid($"The upstream sent a manifest that is not valid: {parsed.Error}", 502);
        var manifest = parsed.Manifest!;
        var want = reference.IsDigest ? reference.Digest : expected;
        var digest = Digest.Compute(content, want?.Algorithm ?? Digest.Sha256);
        if (want is { } wanted && digest != wanted)
        {
            return new RegistryError(RegistryErrorCode.DigestInvalid, $"The upstream sent a manifest whose digest is {digest}, not {wanted}: it was not kept.", 502);
        }
        IReadOnlyList<string> tags = reference.IsDigest ? [] : [reference.Tag!];
        var change = new ManifestPushed(repository, digest, manifest, reference.ToString(), tags, ChangeActor.Server, events.Now);
        await store.PutManifestAsync(repository, new NewManifest(digest, manifest.MediaType, content, manifest, FromUpstream: true), tags, change, cancellationToken);
        foreach (var tag in tags) cache.InvalidateTag(repository, tag);
        await events.PublishAsync(change);
        return new StoredManifest(digest, manifest.MediaType, content, manifest.ReferrerArtifactType, manifest.Subject?.Digest, events.Now);
    }

    /// <summary>
    /// Deletes a manifest by digest (with its tags), or only a tag. A delete that would remove an immutable tag (by name,
    /// or by deleting the manifest it points at) is refused with <c>DENIED</c> naming the rule; the store decides that
    /// inside the delete's transaction.
    /// </summary>
    public async ValueTask<RegistryResult<bool>> DeleteManifestAsync(string repository, ManifestReference reference, ChangeActor actor, CancellationToken cancellationToken)
    {
        if (!options.DeleteEnabled) return RegistryError.Unsupported("Deleting is disabled on this registry.");
        if (!await store.RepositoryExistsAsync(repository, cancellationToken)) return RegistryError.NameUnknown(repository);
        if (reference.IsDigest)
        {
            var digest = reference.Digest!.Value;
            var manifestDeleted = new ManifestDeleted(repository, digest, actor, events.Now);
            var deleted = await store.DeleteManifestAsync(repository, digest, manifestDeleted, cancellationToken);
            switch (deleted.Status)
            {
                case DeleteStatus.NotFound: return RegistryError.ManifestUnknown(digest.ToString());
                case DeleteStatus.ImmutableTag: return ImmutableTag(repository, deleted.Tag!, deleted.Rule!, "deleted");
            }
            cache.InvalidateManifest(repository, digest);
            await events.PublishAsync(manifestDeleted);
            return true;
        }
        var tagDeleted = new TagDeleted(repository, reference.Tag!, actor, events.Now);
        var untagged = await store.DeleteTagAsync(repository, reference.Tag!, tagDeleted, cancellationToken);
        switch (untagged.Status)
        {
            case DeleteStatus.NotFound: return RegistryError.ManifestUnknown(reference.Tag!);
            case DeleteStatus.ImmutableTag: return ImmutableTag(repository, untagged.Tag!, untagged.Rule!, "deleted");
        }
        cache.InvalidateTag(repository, reference.Tag!);
        await events.PublishAsync(tagDeleted);
        return true;
    }

    private static RegistryError ImmutableTag(string repository, string tag, string rule, string what) =>
        new(RegistryErrorCode.Denied, $"The tag '{tag}' of {repository} is immutable (rule '{rule}') and cannot be {what}.", 403, new { tag, rule });

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    } + $" ({bytes} bytes)";

    /// <summary>A page of names, and whether more follow.</summary>
    public sealed record Page(IReadOnlyList<string> Items, bool HasMore);

    public async ValueTask<RegistryResult<Page>> ListTagsAsync(string repository, int? n, string? last, CancellationToken cancellationToken)
    {
        if (!await store.RepositoryExistsAsync(repository, cancellationToken)) return RegistryError.NameUnknown(repository);
        return await PageAsync(n, (limit, ct) => store.ListTagsAsync(repository, last, limit, ct), cancellationToken);
    }

    public ValueTask<Page> ListRepositoriesAsync(int? n, string? last, CancellationToken cancellationToken) =>
        PageAsync(n, (limit, ct) => store.ListRepositoriesAsync(last, limit, ct), cancellationToken);

    private async ValueTask<Page> PageAsync(int? n, Func<int, CancellationToken, Task<IReadOnlyList<string>>> list, CancellationToken cancellationToken)
    {
        var size = Math.Min(n ?? options.MaxPageSize, options.MaxPageSize);
        if (size <= 0) return new Page([], false);
        var items = await list(size + 1, cancellationToken);
        return items.Count > size ? new Page(items.Take(size).ToList(), true) : new Page(items, false);
    }

    public Task<IReadOnlyList<Referrer>> ListReferrersAsync(string repository, Digest subject, string? artifactType, CancellationToken cancellationToken) =>
        store.ListReferrersAsync(repository, subject, string.IsNullOrEmpty(artifactType) ? null : artifactType, cancellationToken);
}
