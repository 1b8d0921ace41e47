using Wharf.Core.Accounts;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>
/// A manifest push that the namespace's quota refuses stores nothing of itself, and a first push into a new repository
/// leaves no repository behind: its blob links made the row, the refusal removes both in its own transaction. A
/// repository that someone created, or that holds anything else, stays.
/// </summary>
public abstract class QuotaRefusalContractTests : StoreContractTests
{
    private IRegistryStore Registry => Database.Registry;

    /// <summary>Links a config and a 100-byte layer into the repository; the image manifest of them (not pushed).</summary>
    private async Task<NewManifest> UploadAsync(string repository, string salt)
    {
        var config = BlobDigest(salt + "-config");
        var layer = BlobDigest(salt + "-layer");
        await Registry.LinkBlobAsync(repository, config, 7, Ct);
        await Registry.LinkBlobAsync(repository, layer, 100, Ct);
        return Image(config, [layer], salt: salt);
    }

    [Fact]
    public async Task A_first_push_the_quota_refuses_leaves_no_repository_nor_links()
    {
        await Database.Policies.SetQuotaAsync("team", 50, Ct);
        var manifest = await UploadAsync("team/fresh", "fresh");
        Assert.True(await Registry.RepositoryExistsAsync("team/fresh", Ct)); // the uploads made it

        var refused = await Registry.PutManifestAsync("team/fresh", manifest, ["v1"], null, Ct);
        Assert.Equal(PutManifestStatus.QuotaExceeded, refused.Status);
        Assert.False(await Registry.RepositoryExistsAsync("team/fresh", Ct));
        Assert.Empty(await Registry.ListRepositoriesAsync(null, 10, Ct));
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/fresh", manifest.Manifest.Layers[0].Digest, Ct));
        Assert.Equal(0, (await Database.Policies.GetUsageAsync("team", Ct)).Repositories);

        // Within the quota, the same upload and push make the repository again.
        await Database.Policies.SetQuotaAsync("team", 1000, Ct);
        manifest = await UploadAsync("team/fresh", "fresh");
        Assert.Equal(PutManifestStatus.Stored, (await Registry.PutManifestAsync("team/fresh", manifest, ["v1"], null, Ct)).Status);
        Assert.Equal(manifest.Digest, await Registry.ResolveTagAsync("team/fresh", "v1", Ct));
    }

    [Fact]
    public async Task A_refused_push_leaves_a_repository_that_someone_made_or_that_holds_more()
    {
        await Database.Policies.SetQuotaAsync("team", 50, Ct);
        Assert.Equal(CreateRepositoryOutcome.Created, await Database.Repositories.CreateAsync("team/made", RepositoryVisibility.Private, "made by hand", null, null, Ct));
        var intoMade = await UploadAsync("team/made", "made");
        Assert.Equal(PutManifestStatus.QuotaExceeded, (await Registry.PutManifestAsync("team/made", intoMade, ["v1"], null, Ct)).Status);
        Assert.True(await Registry.RepositoryExistsAsync("team/made", Ct));

        // Another client's upload into the same new repository keeps it, with that upload's link.
        var other = BlobDigest("another-upload");
        await Registry.LinkBlobAsync("team/shared", other, 10, Ct);
        var refusedHere = await UploadAsync("team/shared", "shared");
        Assert.Equal(PutManifestStatus.QuotaExceeded, (await Registry.PutManifestAsync("team/shared", refusedHere, ["v1"], null, Ct)).Status);
        Assert.True(await Registry.RepositoryExistsAsync("team/shared", Ct));
        Assert.Equal(10, await Registry.GetLinkedBlobSizeAsync("team/shared", other, Ct));
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/shared", refusedHere.Manifest.Layers[0].Digest, Ct));

        // A repository with images keeps everything: the refused push rolls back as a whole.
        await Database.Policies.SetQuotaAsync("team", 200, Ct);
        await PushTaggedImageAsync("team/app", "first", "v1");
        var second = await UploadAsync("team/app", "second");
        Assert.Equal(PutManifestStatus.QuotaExceeded, (await Registry.PutManifestAsync("team/app", second, ["v2"], null, Ct)).Status);
        Assert.Equal(100, await Registry.GetLinkedBlobSizeAsync("team/app", second.Manifest.Layers[0].Digest, Ct));
    }
}

public sealed class SqliteQuotaRefusalTests : QuotaRefusalContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlQuotaRefusalTests : QuotaRefusalContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
