using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>A store under test, migrated and empty, with whatever it needs cleaned up on dispose.</summary>
public interface IRegistryStoreTestProvider : IAsyncDisposable
{
    IRegistryStore Store { get; }

    IMetadataMigrator Migrator { get; }
}

/// <summary>
/// The behaviour every <see cref="IRegistryStore"/> provider must have. A provider's test class derives from this
/// and says how to create a fresh, migrated store for each test.
/// </summary>
public abstract class RegistryStoreContractTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private IRegistryStoreTestProvider? _provider;

    protected IRegistryStoreTestProvider Provider => _provider ?? throw new InvalidOperationException("Not initialized.");

    protected IRegistryStore Store => Provider.Store;

    /// <summary>Creates a fresh store with every migration applied.</summary>
    protected abstract Task<IRegistryStoreTestProvider> CreateProviderAsync();

    public async Task InitializeAsync() => _provider = await CreateProviderAsync();

    public async Task DisposeAsync()
    {
        if (_provider is not null) await _provider.DisposeAsync();
    }

    /// <summary>Links the config and layers of an image manifest into the repository.</summary>
    private async Task<NewManifest> PushImageAsync(string repository, string name, IReadOnlyList<string>? tags = null, Digest? subject = null, string? artifactType = null)
    {
        var config = BlobDigest(name + "-config");
        var layer = BlobDigest(name + "-layer");
        await Store.LinkBlobAsync(repository, config, 7, Ct);
        await Store.LinkBlobAsync(repository, layer, 100, Ct);
        var manifest = Image(config, [layer], subject, artifactType, salt: name);
        var result = await Store.PutManifestAsync(repository, manifest, tags ?? [], null, Ct);
        Assert.Equal(PutManifestStatus.Stored, result.Status);
        return manifest;
    }

    [Fact]
    public async Task Migrating_again_applies_nothing()
    {
        Assert.Equal(0, await Provider.Migrator.MigrateAsync(Ct));
        Assert.Equal(0, await Provider.Migrator.MigrateAsync(Ct));
        Assert.False(await Store.RepositoryExistsAsync("library/alpine", Ct));
    }

    [Fact]
    public async Task EnsureRepository_creates_it_once()
    {
        Assert.False(await Store.RepositoryExistsAsync("library/alpine", Ct));
        await Store.EnsureRepositoryAsync("library/alpine", Ct);
        await Store.EnsureRepositoryAsync("library/alpine", Ct);
        Assert.True(await Store.RepositoryExistsAsync("library/alpine", Ct));
        Assert.False(await Store.RepositoryExistsAsync("library/Alpine", Ct));
        Assert.Equal(["library/alpine"], await Store.ListRepositoriesAsync(null, 100, Ct));
    }

    [Fact]
    public async Task LinkBlob_links_per_repository_and_creates_the_repository()
    {
        var digest = BlobDigest("a");
        await Store.LinkBlobAsync("team/a", digest, 1234, Ct);
        await Store.LinkBlobAsync("team/a", digest, 1234, Ct); // idempotent

        Assert.True(await Store.RepositoryExistsAsync("team/a", Ct));
        Assert.Equal(1234, await Store.GetLinkedBlobSizeAsync("team/a", digest, Ct));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("team/b", digest, Ct));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("team/a", BlobDigest("other"), Ct));

        await Store.LinkBlobAsync("team/b", digest, 1234, Ct);
        Assert.Equal(1234, await Store.GetLinkedBlobSizeAsync("team/b", digest, Ct));
    }

    [Fact]
    public async Task UnlinkBlob_removes_only_that_repository_link()
    {
        var digest = BlobDigest("a");
        await Store.LinkBlobAsync("team/a", digest, 10, Ct);
        await Store.LinkBlobAsync("team/b", digest, 10, Ct);

        Assert.True(await Store.UnlinkBlobAsync("team/a", digest, null, Ct));
        Assert.False(await Store.UnlinkBlobAsync("team/a", digest, null, Ct));
        Assert.False(await Store.UnlinkBlobAsync("team/missing", digest, null, Ct));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("team/a", digest, Ct));
        Assert.Equal(10, await Store.GetLinkedBlobSizeAsync("team/b", digest, Ct));
    }

    [Fact]
    public async Task PutManifest_stores_raw_bytes_byte_for_byte_and_tags_it()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var manifest = await PushImageAsync("library/alpine", "img", ["latest", "3.20"]);

        var stored = await Store.GetManifestAsync("library/alpine", manifest.Digest, Ct);
        Assert.NotNull(stored);
        Assert.Equal(manifest.Content, stored.Content);
        Assert.Equal(manifest.Digest, Digest.Compute(stored.Content));
        Assert.Equal(manifest.Digest, stored.Digest);
        Assert.Equal(MediaTypes.OciManifest, stored.MediaType);
        Assert.Equal(MediaTypes.OciConfig, stored.ArtifactType);
        Assert.Null(stored.Subject);
        Assert.InRange(stored.PushedAt, before, DateTimeOffset.UtcNow.AddSeconds(5));

        Assert.Equal(manifest.Digest, await Store.ResolveTagAsync("library/alpine", "latest", Ct));
        Assert.Equal(manifest.Digest, await Store.ResolveTagAsync("library/alpine", "3.20", Ct));
        Assert.Null(await Store.ResolveTagAsync("library/alpine", "LATEST", Ct));
        Assert.Null(await Store.ResolveTagAsync("library/other", "latest", Ct));
        Assert.Null(await Store.GetManifestAsync("library/other", manifest.Digest, Ct));
    }

    [Fact]
    public async Task PutManifest_links_the_manifest_itself_as_a_blob_of_the_repository()
    {
        var manifest = await PushImageAsync("library/alpine", "img");
        Assert.Equal(manifest.Content.Length, await Store.GetLinkedBlobSizeAsync("library/alpine", manifest.Digest, Ct));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("library/other", manifest.Digest, Ct));

        // Pushing it again restores a link that was removed.
        Assert.True(await Store.UnlinkBlobAsync("library/alpine", manifest.Digest, null, Ct));
        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/alpine", manifest, [], null, Ct)).Status);
        Assert.Equal(manifest.Content.Length, await Store.GetLinkedBlobSizeAsync("library/alpine", manifest.Digest, Ct));
    }

    [Fact]
    public async Task PutManifest_with_a_missing_blob_is_refused_and_stores_nothing()
    {
        var config = BlobDigest("config");
        var present = BlobDigest("present");
        var missing = BlobDigest("missing");
        await Store.LinkBlobAsync("library/alpine", config, 7, Ct);
        await Store.LinkBlobAsync("library/alpine", present, 100, Ct);
        await Store.LinkBlobAsync("library/other", missing, 100, Ct); // linked elsewhere does not count
        var manifest = Image(config, [present, missing]);

        var result = await Store.PutManifestAsync("library/alpine", manifest, ["latest"], null, Ct);

        Assert.Equal(PutManifestStatus.MissingReference, result.Status);
        Assert.Equal(missing, result.Missing);
        Assert.Null(await Store.GetManifestAsync("library/alpine", manifest.Digest, Ct));
        Assert.Null(await Store.ResolveTagAsync("library/alpine", "latest", Ct));
        Assert.Empty(await Store.ListTagsAsync("library/alpine", null, 100, Ct));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("library/alpine", manifest.Digest, Ct));
    }

    [Fact]
    public async Task PutManifest_into_an_unknown_repository_with_missing_config_creates_nothing()
    {
        var config = BlobDigest("config");
        var manifest = Image(config, []);

        var result = await Store.PutManifestAsync("new/repo", manifest, ["v1"], null, Ct);

        Assert.Equal(PutManifestResult.MissingReference(config), result);
        Assert.False(await Store.RepositoryExistsAsync("new/repo", Ct));
        Assert.Empty(await Store.ListRepositoriesAsync(null, 100, Ct));
    }

    [Fact]
    public async Task PutManifest_does_not_require_foreign_layers()
    {
        var config = BlobDigest("config");
        var foreign = BlobDigest("foreign");
        await Store.LinkBlobAsync("win/app", config, 7, Ct);
        var manifest = FromJson($$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.DockerManifest}}",
             "config":{"mediaType":"{{MediaTypes.DockerConfig}}","digest":"{{config}}","size":7},
             "layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{{foreign}}","size":5,"urls":["https://example.test/layer"]}]}
            """);

        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("win/app", manifest, ["1"], null, Ct)).Status);
        var stored = await Store.GetManifestAsync("win/app", manifest.Digest, Ct);
        Assert.Equal(MediaTypes.DockerManifest, stored?.MediaType);
    }

    [Fact]
    public async Task PutManifest_is_idempotent_for_the_same_digest()
    {
        var manifest = await PushImageAsync("library/alpine", "img", ["a"]);
        var first = await Store.GetManifestAsync("library/alpine", manifest.Digest, Ct);

        var again = await Store.PutManifestAsync("library/alpine", manifest, ["b"], null, Ct);

        Assert.Equal(PutManifestStatus.Stored, again.Status);
        var second = await Store.GetManifestAsync("library/alpine", manifest.Digest, Ct);
        Assert.Equal(first?.Content, second?.Content);
        Assert.Equal(first?.PushedAt, second?.PushedAt);
        Assert.Equal(["a", "b"], await Store.ListTagsAsync("library/alpine", null, 10, Ct));
    }

    [Fact]
    public async Task Index_with_a_missing_child_is_refused_then_accepted_once_the_child_is_pushed()
    {
        var amd = await PushImageAsync("library/alpine", "amd64");
        var armConfig = BlobDigest("arm-config");
        var armLayer = BlobDigest("arm-layer");
        await Store.LinkBlobAsync("library/alpine", armConfig, 7, Ct);
        await Store.LinkBlobAsync("library/alpine", armLayer, 100, Ct);
        var arm = Image(armConfig, [armLayer], salt: "arm");
        var index = Index([amd.Digest, arm.Digest]);

        var refused = await Store.PutManifestAsync("library/alpine", index, ["latest"], null, Ct);
        Assert.Equal(PutManifestResult.MissingReference(arm.Digest), refused);
        Assert.Null(await Store.GetManifestAsync("library/alpine", index.Digest, Ct));
        Assert.Null(await Store.ResolveTagAsync("library/alpine", "latest", Ct));

        // A child in another repository does not count.
        await Store.LinkBlobAsync("library/other", armConfig, 7, Ct);
        await Store.LinkBlobAsync("library/other", armLayer, 100, Ct);
        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/other", arm, [], null, Ct)).Status);
        Assert.Equal(PutManifestStatus.MissingReference, (await Store.PutManifestAsync("library/alpine", index, ["latest"], null, Ct)).Status);

        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/alpine", arm, [], null, Ct)).Status);
        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/alpine", index, ["latest"], null, Ct)).Status);

        var stored = await Store.GetManifestAsync("library/alpine", index.Digest, Ct);
        Assert.Equal(index.Content, stored?.Content);
        Assert.Equal(MediaTypes.OciIndex, stored?.MediaType);
        Assert.Null(stored?.ArtifactType);
        Assert.Equal(index.Digest, await Store.ResolveTagAsync("library/alpine", "latest", Ct));
    }

    [Fact]
    public async Task Tags_move_to_a_new_digest()
    {
        var v1 = await PushImageAsync("library/alpine", "v1", ["latest", "v1"]);
        var v2 = await PushImageAsync("library/alpine", "v2", ["latest", "v2"]);

        Assert.Equal(v2.Digest, await Store.ResolveTagAsync("library/alpine", "latest", Ct));
        Assert.Equal(v1.Digest, await Store.ResolveTagAsync("library/alpine", "v1", Ct));
        Assert.Equal(v2.Digest, await Store.ResolveTagAsync("library/alpine", "v2", Ct));
        Assert.NotNull(await Store.GetManifestAsync("library/alpine", v1.Digest, Ct));

        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/alpine", v1, ["latest"], null, Ct)).Status);
        Assert.Equal(v1.Digest, await Store.ResolveTagAsync("library/alpine", "latest", Ct));
    }

    [Fact]
    public async Task DeleteManifest_removes_it_and_its_tags_but_not_its_referrers()
    {
        var keep = await PushImageAsync("library/alpine", "keep", ["stable"]);
        var gone = await PushImageAsync("library/alpine", "gone", ["latest", "v2"]);
        var signature = await PushImageAsync("library/alpine", "sig", subject: gone.Digest, artifactType: "application/vnd.example.signature");

        Assert.True((await Store.DeleteManifestAsync("library/alpine", gone.Digest, null, Ct)).IsDeleted);

        Assert.Null(await Store.GetManifestAsync("library/alpine", gone.Digest, Ct));
        Assert.Null(await Store.ResolveTagAsync("library/alpine", "latest", Ct));
        Assert.Null(await Store.ResolveTagAsync("library/alpine", "v2", Ct));
        Assert.Equal(["stable"], await Store.ListTagsAsync("library/alpine", null, 100, Ct));
        Assert.NotNull(await Store.GetManifestAsync("library/alpine", keep.Digest, Ct));
        Assert.NotNull(await Store.GetManifestAsync("library/alpine", signature.Digest, Ct));
        var referrers = await Store.ListReferrersAsync("library/alpine", gone.Digest, null, Ct);
        Assert.Equal([signature.Digest], referrers.Select(r => r.Digest));
        Assert.Null(await Store.GetLinkedBlobSizeAsync("library/alpine", gone.Digest, Ct));

        Assert.False((await Store.DeleteManifestAsync("library/alpine", gone.Digest, null, Ct)).IsDeleted);
        Assert.False((await Store.DeleteManifestAsync("library/other", keep.Digest, null, Ct)).IsDeleted);

        // It can be pushed again afterwards.
        Assert.Equal(PutManifestStatus.Stored, (await Store.PutManifestAsync("library/alpine", gone, ["latest"], null, Ct)).Status);
        Assert.Equal(gone.Digest, await Store.ResolveTagAsync("library/alpine", "latest", Ct));
    }

    [Fact]
    public async Task DeleteTag_keeps_the_manifest()
    {
        var manifest = await PushImageAsync("library/alpine", "img", ["latest", "v1"]);

        Assert.True((await Store.DeleteTagAsync("library/alpine", "latest", null, Ct)).IsDeleted);
        Assert.False((await Store.DeleteTagAsync("library/alpine", "latest", null, Ct)).IsDeleted);
        Assert.False((await Store.DeleteTagAsync("library/other", "v1", null, Ct)).IsDeleted);

        Assert.Null(await Store.ResolveTagAsync("library/alpine", "latest", Ct));
        Assert.Equal(manifest.Digest, await Store.ResolveTagAsync("library/alpine", "v1", Ct));
        Assert.NotNull(await Store.GetManifestAsync("library/alpine", manifest.Digest, Ct));
    }

    [Fact]
    public async Task ListTags_pages_in_ascii_order()
    {
        await PushImageAsync("library/alpine", "img", ["b", "latest", "A", "a", "Z", "1.0", "B", "_x"]);
        await PushImageAsync("library/other", "other", ["0", "c"]);

        string[] all = ["1.0", "A", "B", "Z", "_x", "a", "b", "latest"];
        Assert.Equal(all, await Store.ListTagsAsync("library/alpine", null, 100, Ct));
        Assert.Equal(["1.0", "A", "B"], await Store.ListTagsAsync("library/alpine", null, 3, Ct));
        Assert.Equal(["Z", "_x", "a"], await Store.ListTagsAsync("library/alpine", "B", 3, Ct));
        Assert.Equal(["b", "latest"], await Store.ListTagsAsync("library/alpine", "a", 3, Ct));
        Assert.Empty(await Store.ListTagsAsync("library/alpine", "latest", 3, Ct));
        // last need not be an existing tag.
        Assert.Equal(["a", "b", "latest"], await Store.ListTagsAsync("library/alpine", "_y", 100, Ct));
        Assert.Empty(await Store.ListTagsAsync("library/alpine", null, 0, Ct));
        Assert.Empty(await Store.ListTagsAsync("library/missing", null, 100, Ct));

        // Walking pages of 2 yields everything once.
        var walked = new List<string>();
        string? last = null;
        while (true)
        {
            var page = await Store.ListTagsAsync("library/alpine", last, 2, Ct);
            if (page.Count == 0) break;
            walked.AddRange(page);
            last = page[^1];
        }
        Assert.Equal(all, walked);
    }

    [Fact]
    public async Task ListRepositories_pages_in_ascii_order()
    {
        string[] names = ["library/alpine", "Library/zeta", "abc/def", "abc-def/x", "abc/DEF", "z", "library/alpine/sub"];
        foreach (var name in names) await Store.EnsureRepositoryAsync(name, Ct);
        await Store.LinkBlobAsync("m/via-blob", BlobDigest("x"), 1, Ct);

        string[] all = ["Library/zeta", "abc-def/x", "abc/DEF", "abc/def", "library/alpine", "library/alpine/sub", "m/via-blob", "z"];
        Assert.Equal(all, await Store.ListRepositoriesAsync(null, 100, Ct));
        Assert.Equal(["Library/zeta", "abc-def/x"], await Store.ListRepositoriesAsync(null, 2, Ct));
        Assert.Equal(["abc/DEF", "abc/def", "library/alpine"], await Store.ListRepositoriesAsync("abc-def/x", 3, Ct));
        Assert.Equal(["library/alpine/sub", "m/via-blob", "z"], await Store.ListRepositoriesAsync("library/alpine", 10, Ct));
        Assert.Empty(await Store.ListRepositoriesAsync("z", 10, Ct));
        Assert.Empty(await Store.ListRepositoriesAsync(null, 0, Ct));
    }

    [Fact]
    public async Task ListReferrers_filters_by_subject_artifact_type_and_repository()
    {
        var image = await PushImageAsync("library/alpine", "img", ["latest"]);
        var sbom = await PushImageAsync("library/alpine", "sbom", subject: image.Digest, artifactType: "application/spdx+json");
        var signature = await PushImageAsync("library/alpine", "sig", subject: image.Digest, artifactType: "application/vnd.example.signature");
        // No artifactType: the config media type is the artifact type.
        var plain = await PushImageAsync("library/alpine", "plain", subject: image.Digest);
        // Same subject, another repository: not visible.
        await PushImageAsync("library/other", "other-sig", subject: image.Digest, artifactType: "application/vnd.example.signature");
        // Another subject: not listed.
        await PushImageAsync("library/alpine", "unrelated", subject: BlobDigest("nothing"), artifactType: "application/spdx+json");

        var all = await Store.ListReferrersAsync("library/alpine", image.Digest, null, Ct);
        Assert.Equal(
            new[] { sbom.Digest, signature.Digest, plain.Digest }.OrderBy(d => d.ToString(), StringComparer.Ordinal),
            all.Select(r => r.Digest).OrderBy(d => d.ToString(), StringComparer.Ordinal));

        var sbomEntry = Assert.Single(all, r => r.Digest == sbom.Digest);
        Assert.Equal(MediaTypes.OciManifest, sbomEntry.MediaType);
        Assert.Equal(sbom.Content.Length, sbomEntry.Size);
        Assert.Equal("application/spdx+json", sbomEntry.ArtifactType);
        Assert.Equal("{\"org.example.salt\": \"sbom\"}", sbomEntry.AnnotationsJson);
        Assert.Equal(MediaTypes.OciConfig, Assert.Single(all, r => r.Digest == plain.Digest).ArtifactType);

        var signatures = await Store.ListReferrersAsync("library/alpine", image.Digest, "application/vnd.example.signature", Ct);
        Assert.Equal([signature.Digest], signatures.Select(r => r.Digest));
        Assert.Empty(await Store.ListReferrersAsync("library/alpine", image.Digest, "application/none", Ct));

        var stored = await Store.GetManifestAsync("library/alpine", sbom.Digest, Ct);
        Assert.Equal(image.Digest, stored?.Subject);
        Assert.Equal("application/spdx+json", stored?.ArtifactType);

        Assert.Empty(await Store.ListReferrersAsync("library/missing", image.Digest, null, Ct));
    }

    [Fact]
    public async Task Referrers_may_be_pushed_before_their_subject()
    {
        var subject = BlobDigest("not-yet-pushed-subject");
        var signature = await PushImageAsync("library/alpine", "sig", subject: subject, artifactType: "application/vnd.example.signature");

        Assert.Equal([signature.Digest], (await Store.ListReferrersAsync("library/alpine", subject, null, Ct)).Select(r => r.Digest));
    }

    [Fact]
    public async Task Concurrent_pushes_and_links_all_succeed()
    {
        const int count = 50;
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var repository = $"load/repo{i % 5}";
            var config = BlobDigest($"load-config-{i}");
            var layer = BlobDigest($"load-layer-{i}");
            var shared = BlobDigest("load-shared");
            await Store.LinkBlobAsync(repository, config, 7, Ct);
            await Store.LinkBlobAsync(repository, shared, 50, Ct);
            await Store.LinkBlobAsync(repository, layer, 100, Ct);
            var manifest = Image(config, [shared, layer], salt: $"load-{i}");
            var result = await Store.PutManifestAsync(repository, manifest, [$"t{i}", "latest"], null, Ct);
            Assert.Equal(PutManifestStatus.Stored, result.Status);
            // Reads interleave with writes.
            Assert.NotNull(await Store.GetManifestAsync(repository, manifest.Digest, Ct));
            Assert.NotNull(await Store.ResolveTagAsync(repository, $"t{i}", Ct));
            await Store.ListTagsAsync(repository, null, 100, Ct);
            return (repository, manifest.Digest, Tag: $"t{i}");
        })).ToArray();

        var pushed = await Task.WhenAll(tasks);

        Assert.Equal(5, (await Store.ListRepositoriesAsync(null, 100, Ct)).Count);
        foreach (var (repository, digest, tag) in pushed)
        {
            Assert.Equal(digest, await Store.ResolveTagAsync(repository, tag, Ct));
        }
        for (var r = 0; r < 5; r++)
        {
            Assert.Equal(count / 5 + 1, (await Store.ListTagsAsync($"load/repo{r}", null, 100, Ct)).Count);
            Assert.NotNull(await Store.ResolveTagAsync($"load/repo{r}", "latest", Ct));
        }
    }
}
