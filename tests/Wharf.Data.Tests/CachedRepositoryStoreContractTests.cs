using Wharf.Core.Registry;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>
/// The behaviour every <see cref="Wharf.Core.Proxy.ICachedRepositoryStore"/> provider must have, and the registry store's
/// side of the pull-through cache: a manifest from an upstream is stored before its blobs.
/// </summary>
public abstract class CachedRepositoryStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task A_cached_repository_names_its_upstream_and_pushed_ones_name_none()
    {
        var store = Database.CachedRepositories;
        await Database.Registry.LinkBlobAsync("alice/app", BlobDigest("pushed"), 3, Ct);
        await store.MarkCachedAsync("hub/library/busybox", "http://127.0.0.1:1/library/busybox", Ct);
        await store.MarkCachedAsync("hub/library/busybox", "http://127.0.0.1:1/library/busybox", Ct);
        await store.MarkCachedAsync("library/alpine", "http://127.0.0.1:2/library/alpine", Ct);

        Assert.True(await Database.Registry.RepositoryExistsAsync("hub/library/busybox", Ct));
        Assert.Equal("http://127.0.0.1:1/library/busybox", await store.GetUpstreamAsync("hub/library/busybox", Ct));
        Assert.Null(await store.GetUpstreamAsync("alice/app", Ct));
        Assert.Null(await store.GetUpstreamAsync("nobody/here", Ct));
        var page = await store.GetUpstreamsAsync(["alice/app", "hub/library/busybox", "library/alpine", "nobody/here"], Ct);
        Assert.Equal(
            [("hub/library/busybox", "http://127.0.0.1:1/library/busybox"), ("library/alpine", "http://127.0.0.1:2/library/alpine")],
            page.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)));
        Assert.Empty(await store.GetUpstreamsAsync([], Ct));

        await store.MarkCachedAsync("library/alpine", "http://127.0.0.1:3/library/alpine", Ct);
        Assert.Equal("http://127.0.0.1:3/library/alpine", await store.GetUpstreamAsync("library/alpine", Ct));
    }

    [Fact]
    public async Task A_manifest_from_upstream_is_stored_before_its_blobs_and_children_but_a_pushed_one_is_not()
    {
        var manifest = Image(BlobDigest("config"), [BlobDigest("layer")], salt: "upstream");
        var pushed = await Database.Registry.PutManifestAsync("hub/library/busybox", manifest, ["1"], null, Ct);
        Assert.Equal(PutManifestStatus.MissingReference, pushed.Status);

        var cached = await Database.Registry.PutManifestAsync("hub/library/busybox", manifest with { FromUpstream = true }, ["1"], null, Ct);
        Assert.Equal(PutManifestStatus.Stored, cached.Status);
        Assert.Equal(manifest.Digest, await Database.Registry.ResolveTagAsync("hub/library/busybox", "1", Ct));
        Assert.Equal(manifest.Content, (await Database.Registry.GetManifestAsync("hub/library/busybox", manifest.Digest, Ct))!.Content);
        Assert.Null(await Database.Registry.GetLinkedBlobSizeAsync("hub/library/busybox", BlobDigest("layer"), Ct));

        var index = FromJson($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{BlobDigest("child")}}","size":10}]}""");
        Assert.Equal(PutManifestStatus.MissingReference, (await Database.Registry.PutManifestAsync("hub/library/multi", index, ["1"], null, Ct)).Status);
        Assert.Equal(PutManifestStatus.Stored, (await Database.Registry.PutManifestAsync("hub/library/multi", index with { FromUpstream = true }, ["1"], null, Ct)).Status);
    }
}

public sealed class SqliteCachedRepositoryStoreTests : CachedRepositoryStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlCachedRepositoryStoreTests : CachedRepositoryStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
