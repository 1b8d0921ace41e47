using Microsoft.Extensions.Time.Testing;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Gc;
using Wharf.Core.Registry;
using Wharf.Core.Retention;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>
/// What every <see cref="IGcStore"/> provider must decide in its database: which blobs and manifests nothing needs, the
/// compare-and-swap that claims a blob, links refused while a blob is being deleted, the collector lock and run records.
/// </summary>
public abstract class GcStoreContractTests : StoreContractTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    protected override TimeProvider Time => _clock;

    private IGcStore Gc => Database.Gc;

    private IRegistryStore Registry => Database.Registry;

    /// <summary>A cutoff after everything written so far.</summary>
    protected DateTimeOffset Later => _clock.GetUtcNow().AddSeconds(1);

    private static RegistryChange Deleted(string repository, Digest digest) => new ManifestDeleted(repository, digest, ChangeActor.Server, DateTimeOffset.UnixEpoch);

    private async Task<List<Digest>> UnreferencedAsync(DateTimeOffset cutoff, bool dryRun = false, bool deleteUntagged = true) =>
        [.. (await Gc.ListUnreferencedBlobsAsync(cutoff, dryRun, deleteUntagged, null, null, 100, Ct)).Select(b => b.Digest)];

    private async Task<List<Digest>> UnkeptAsync(DateTimeOffset cutoff, bool deleteUntagged = true) =>
        [.. (await Gc.ListUnkeptManifestsAsync(cutoff, deleteUntagged, null, 100, Ct)).Select(m => m.Digest)];

    protected async Task<NewManifest> PushImageAsync(string repository, string name, string? tag, Digest? subject = null)
    {
        var config = BlobDigest(name + "-config");
        var layer = BlobDigest(name + "-layer");
        await Registry.LinkBlobAsync(repository, config, 7, Ct);
        await Registry.LinkBlobAsync(repository, layer, 100, Ct);
        var manifest = Image(config, [layer], subject: subject, artifactType: subject is null ? null : "application/vnd.example.sig", salt: name);
        Assert.Equal(PutManifestStatus.Stored, (await Registry.PutManifestAsync(repository, manifest, tag is null ? [] : [tag], null, Ct)).Status);
        return manifest;
    }

    [Fact]
    public async Task An_unreferenced_blob_is_claimed_unlinked_and_then_forgotten()
    {
        var blob = BlobDigest("orphan-upload");
        await Registry.LinkBlobAsync("team/app", blob, 42, Ct);

        Assert.Equal([blob], await UnreferencedAsync(Later));
        Assert.Single(await Gc.TryMarkDeletingAsync([blob], Later, Ct));
        Assert.Empty(await Gc.TryMarkDeletingAsync([blob], Later, Ct)); // claimed once
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/app", blob, Ct));
        Assert.Empty(await UnreferencedAsync(Later));
        Assert.Equal([new GcBlob(blob, 42)], await Gc.ListDeletingBlobsAsync(null, 100, Ct));

        await Gc.ForgetBlobsAsync([blob], Ct);
        Assert.Empty(await Gc.ListDeletingBlobsAsync(null, 100, Ct));
        Assert.Empty(await Gc.FindKnownBlobsAsync([blob], Ct));
    }

    [Fact]
    public async Task A_blob_that_a_manifest_references_is_never_claimed()
    {
        var image = await PushImageAsync("team/app", "kept", "v1");
        var layer = image.Manifest.Layers[0].Digest;

        Assert.DoesNotContain(layer, await UnreferencedAsync(Later));
        Assert.Empty(await Gc.TryMarkDeletingAsync([layer], Later, Ct));
        Assert.Empty(await Gc.TryMarkDeletingAsync([image.Digest], Later, Ct)); // the manifest's own bytes
        Assert.Equal(100, await Registry.GetLinkedBlobSizeAsync("team/app", layer, Ct));
    }

    [Fact]
    public async Task A_blob_linked_after_the_cutoff_is_kept_and_a_new_link_renews_it()
    {
        var blob = BlobDigest("young");
        await Registry.LinkBlobAsync("team/app", blob, 1, Ct);
        var cutoff = _clock.GetUtcNow();
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([blob], await UnreferencedAsync(Later));

        await Registry.LinkBlobAsync("team/other", blob, 1, Ct); // mounted or uploaded again: linked now
        Assert.Empty(await UnreferencedAsync(cutoff.AddSeconds(30)));
        Assert.Empty(await Gc.TryMarkDeletingAsync([blob], cutoff.AddSeconds(30), Ct));
    }

    [Fact]
    public async Task A_blob_being_deleted_cannot_be_linked_nor_referenced_by_a_push()
    {
        var config = BlobDigest("c");
        var layer = BlobDigest("l");
        await Registry.LinkBlobAsync("team/app", config, 7, Ct);
        await Registry.LinkBlobAsync("team/app", layer, 100, Ct);
        Assert.Single(await Gc.TryMarkDeletingAsync([layer], Later, Ct));

        Assert.Equal(LinkBlobStatus.Gone, await Registry.LinkBlobAsync("team/app", layer, 100, Ct));
        Assert.Equal(LinkBlobStatus.Gone, await Registry.LinkBlobAsync("team/new", layer, 100, _ => ValueTask.FromResult(true), Ct));
        Assert.False(await Registry.RepositoryExistsAsync("team/new", Ct)); // a refused link leaves nothing
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/app", layer, Ct));
        var push = await Registry.PutManifestAsync("team/app", Image(config, [layer]), ["v1"], null, Ct);
        Assert.Equal(PutManifestStatus.MissingReference, push.Status);
        Assert.Equal(layer, push.Missing);

        await Gc.ForgetBlobsAsync([layer], Ct);
        Assert.Equal(LinkBlobStatus.Linked, await Registry.LinkBlobAsync("team/app", layer, 100, _ => ValueTask.FromResult(true), Ct));
        Assert.Equal(PutManifestStatus.Stored, (await Registry.PutManifestAsync("team/app", Image(config, [layer]), ["v1"], null, Ct)).Status);
    }

    [Fact]
    public async Task A_page_claim_takes_only_the_unreferenced_old_live_blobs_and_unlinks_each_everywhere()
    {
        var loose = BlobDigest("loose");
        var mounted = BlobDigest("mounted");
        await Registry.LinkBlobAsync("team/app", loose, 11, Ct);
        await Registry.LinkBlobAsync("team/app", mounted, 22, Ct);
        await Registry.LinkBlobAsync("team/other", mounted, 22, Ct);
        var image = await PushImageAsync("team/app", "kept", "v1");
        var cutoff = Later;
        _clock.Advance(TimeSpan.FromMinutes(1));
        var young = BlobDigest("young");
        await Registry.LinkBlobAsync("team/app", young, 33, Ct);
        var page = new[] { loose, mounted, image.Manifest.Layers[0].Digest, image.Manifest.Config!.Digest, image.Digest, young, BlobDigest("never-stored") };

        var claimed = await Gc.TryMarkDeletingAsync(page, cutoff, Ct);

        Assert.Equal(new[] { new GcBlob(loose, 11), new GcBlob(mounted, 22) }.OrderBy(b => b.Digest.ToString()), claimed.OrderBy(b => b.Digest.ToString()));
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/app", mounted, Ct));
        Assert.Null(await Registry.GetLinkedBlobSizeAsync("team/other", mounted, Ct));
        Assert.Equal(100, await Registry.GetLinkedBlobSizeAsync("team/app", image.Manifest.Layers[0].Digest, Ct));
        Assert.Equal(33, await Registry.GetLinkedBlobSizeAsync("team/app", young, Ct));
        Assert.Empty(await Gc.TryMarkDeletingAsync(page, cutoff, Ct)); // claimed once
        Assert.Equal(LinkBlobStatus.Gone, await Registry.LinkBlobAsync("team/other", loose, 11, Ct));

        // The page's rows go in one forget; a live row named with them stays.
        await Gc.ForgetBlobsAsync([loose, mounted, young], Ct);
        Assert.Equal([young], await Gc.FindKnownBlobsAsync([loose, mounted, young], Ct));
        Assert.Empty(await Gc.ListDeletingBlobsAsync(null, 100, Ct));
    }

    [Fact]
    public async Task A_page_larger_than_one_statement_binds_is_claimed_and_forgotten_whole()
    {
        var blobs = Enumerable.Range(0, 600).Select(i => BlobDigest($"many-{i}")).ToArray();
        foreach (var blob in blobs) await Registry.LinkBlobAsync("team/app", blob, 1, Ct);

        Assert.Equal(blobs.Length, (await Gc.TryMarkDeletingAsync(blobs, Later, Ct)).Count);
        Assert.Equal(blobs.Length, (await Gc.ListDeletingBlobsAsync(null, 1_000, Ct)).Count);
        await Gc.ForgetBlobsAsync(blobs, Ct);
        Assert.Empty(await Gc.FindKnownBlobsAsync(blobs, Ct));
    }

    [Fact]
    public async Task A_link_without_a_row_asks_whether_the_object_is_stored_inside_its_transaction()
    {
        var blob = BlobDigest("gone-object");
        Assert.Equal(LinkBlobStatus.Gone, await Registry.LinkBlobAsync("team/app", blob, 5, _ => ValueTask.FromResult(false), Ct));
        Assert.Empty(await Gc.FindKnownBlobsAsync([blob], Ct));
        Assert.False(await Registry.RepositoryExistsAsync("team/app", Ct));

        var asked = 0;
        Assert.Equal(LinkBlobStatus.Linked, await Registry.LinkBlobAsync("team/app", blob, 5, _ => { asked++; return ValueTask.FromResult(true); }, Ct));
        Assert.Equal(LinkBlobStatus.Linked, await Registry.LinkBlobAsync("team/other", blob, 5, _ => { asked++; return ValueTask.FromResult(false); }, Ct));
        Assert.Equal(1, asked); // a live row vouches for its object
        Assert.Equal(5, await Registry.GetLinkedBlobSizeAsync("team/other", blob, Ct));
    }

    [Fact]
    public async Task An_orphan_object_is_claimed_once_and_blocks_links_until_forgotten()
    {
        var orphan = BlobDigest("orphan-object");
        var known = BlobDigest("known");
        await Registry.LinkBlobAsync("team/app", known, 1, Ct);

        Assert.Equal([known], await Gc.FindKnownBlobsAsync([orphan, known], Ct));
        Assert.Empty(await Gc.TryClaimOrphansAsync([new GcBlob(known, 1)], Ct));
        Assert.Equal([new GcBlob(orphan, 9)], await Gc.TryClaimOrphansAsync([new GcBlob(orphan, 9), new GcBlob(known, 1)], Ct));
        Assert.Empty(await Gc.TryClaimOrphansAsync([new GcBlob(orphan, 9)], Ct));
        Assert.Equal(LinkBlobStatus.Gone, await Registry.LinkBlobAsync("team/app", orphan, 9, _ => ValueTask.FromResult(true), Ct));
        Assert.Equal([new GcBlob(orphan, 9)], await Gc.ListDeletingBlobsAsync(null, 100, Ct));
        await Gc.ForgetBlobsAsync([orphan], Ct);
        Assert.Empty(await Gc.ListDeletingBlobsAsync(null, 100, Ct));
    }

    [Fact]
    public async Task Manifests_that_no_tag_index_or_live_subject_keeps_are_unkept()
    {
        var tagged = await PushImageAsync("team/app", "tagged", "v1");
        var untagged = await PushImageAsync("team/app", "untagged", null);
        var child = await PushImageAsync("team/app", "child", null);
        var index = Index([child.Digest]);
        Assert.Equal(PutManifestStatus.Stored, (await Registry.PutManifestAsync("team/app", index, ["multi"], null, Ct)).Status);
        var signatureOfTagged = await PushImageAsync("team/app", "sig-tagged", null, subject: tagged.Digest);
        var signatureOfUntagged = await PushImageAsync("team/app", "sig-untagged", null, subject: untagged.Digest);
        var dangling = await PushImageAsync("team/app", "dangling", null, subject: BlobDigest("never-pushed"));

        Assert.Empty(await UnkeptAsync(_clock.GetUtcNow().AddSeconds(-1))); // all pushed within the grace period
        Assert.Equal(
            new[] { untagged.Digest, signatureOfUntagged.Digest, dangling.Digest }.Select(d => d.ToString()).Order(),
            (await UnkeptAsync(Later)).Select(d => d.ToString()).Order());
        Assert.Equal([dangling.Digest], await UnkeptAsync(Later, deleteUntagged: false));

        // Each is re-checked when deleted: a referrer goes only once its subject has gone (earlier in the same page will
        // do), a tagged one never, a child of a tagged index never.
        static GcManifest App(Digest digest) => new("team/app", digest);
        static RegistryChange Change(GcManifest m) => Deleted(m.Repository, m.Digest);
        Assert.Empty(await Gc.TryDeleteUnkeptManifestsAsync([App(signatureOfUntagged.Digest), App(tagged.Digest), App(child.Digest)], Later, Change, Ct));
        Assert.Equal([App(untagged.Digest), App(signatureOfUntagged.Digest)],
            await Gc.TryDeleteUnkeptManifestsAsync([App(untagged.Digest), App(signatureOfUntagged.Digest), App(tagged.Digest)], Later, Change, Ct));
        Assert.Empty(await Gc.TryDeleteUnkeptManifestsAsync([App(untagged.Digest)], Later, Change, Ct)); // gone already
        Assert.Null(await Registry.GetManifestAsync("team/app", untagged.Digest, Ct));
        Assert.NotNull(await Registry.GetManifestAsync("team/app", child.Digest, Ct));

        // The blobs only the deleted manifests referenced are now unreferenced; the rest are not.
        var unreferenced = await UnreferencedAsync(Later);
        Assert.Contains(untagged.Manifest.Layers[0].Digest, unreferenced);
        Assert.Contains(untagged.Digest, unreferenced); // the manifest's own link row
        Assert.DoesNotContain(tagged.Manifest.Layers[0].Digest, unreferenced);
        Assert.DoesNotContain(child.Manifest.Layers[0].Digest, unreferenced);
    }

    [Fact]
    public async Task A_dry_run_counts_the_blobs_of_unkept_manifests_without_changing_anything()
    {
        var tagged = await PushImageAsync("team/app", "tagged", "v1");
        var untagged = await PushImageAsync("team/app", "untagged", null);

        var wouldGo = await UnreferencedAsync(Later, dryRun: true);
        Assert.Contains(untagged.Manifest.Layers[0].Digest, wouldGo);
        Assert.Contains(untagged.Manifest.Config!.Digest, wouldGo);
        Assert.DoesNotContain(tagged.Manifest.Layers[0].Digest, wouldGo);
        Assert.DoesNotContain(untagged.Manifest.Layers[0].Digest, await UnreferencedAsync(Later, dryRun: true, deleteUntagged: false));
        Assert.Empty(await UnreferencedAsync(Later)); // nothing unreferenced yet, nothing changed
        Assert.NotNull(await Registry.GetManifestAsync("team/app", untagged.Digest, Ct));
    }

    [Fact]
    public async Task A_dry_run_counts_what_goes_once_the_tags_retention_would_delete_are_gone()
    {
        var expiring = await PushImageAsync("team/app", "expiring", "old");
        var alsoTagged = await PushImageAsync("team/app", "also-tagged", "old2");
        Assert.Equal(PutManifestStatus.Stored, (await Registry.PutManifestAsync("team/app", alsoTagged, ["stay"], null, Ct)).Status);
        var sameNameElsewhere = await PushImageAsync("team/other", "elsewhere", "old");
        ExpiredTag[] assumed = [new("team/app", "old", expiring.Digest), new("team/app", "old2", alsoTagged.Digest)];

        var unkept = await Gc.ListUnkeptManifestsAsync(Later, deleteUntagged: true, assumed, 100, Ct);
        Assert.Equal([new GcManifest("team/app", expiring.Digest)], unkept); // the other keeps its tag 'stay'; team/other's 'old' is its own
        var wouldGo = (await Gc.ListUnreferencedBlobsAsync(Later, ignoringUnkeptManifests: true, deleteUntagged: true, assumed, null, 100, Ct)).Select(b => b.Digest).ToList();
        Assert.Equal(new[] { expiring.Manifest.Config!.Digest, expiring.Manifest.Layers[0].Digest }.Select(d => d.ToString()).Order(StringComparer.Ordinal), wouldGo.Select(d => d.ToString()));
        Assert.DoesNotContain(sameNameElsewhere.Manifest.Layers[0].Digest, wouldGo);

        // Within the grace period, or keeping untagged manifests, the image stays even without its tag.
        Assert.Empty(await Gc.ListUnkeptManifestsAsync(_clock.GetUtcNow().AddSeconds(-1), deleteUntagged: true, assumed, 100, Ct));
        Assert.Empty(await Gc.ListUnkeptManifestsAsync(Later, deleteUntagged: false, assumed, 100, Ct));
        Assert.Empty(await UnkeptAsync(Later)); // assumed only: every tag is still there
        Assert.Equal(expiring.Digest, await Registry.ResolveTagAsync("team/app", "old", Ct));
    }

    [Fact]
    public async Task One_collector_holds_the_lock_across_nodes()
    {
        var other = Database.OpenAnotherNode(_clock);
        var first = await Gc.TryLockAsync(Ct);
        Assert.NotNull(first);
        Assert.Null(await other.Gc.TryLockAsync(Ct));
        Assert.Null(await Gc.TryLockAsync(Ct));
        await first!.DisposeAsync();
        var second = await other.Gc.TryLockAsync(Ct);
        Assert.NotNull(second);
        await second!.DisposeAsync();
    }

    [Fact]
    public async Task Runs_are_recorded_and_listed_newest_first()
    {
        var start = _clock.GetUtcNow();
        var first = await Gc.StartRunAsync(start, dryRun: true, "cli", Ct);
        await Gc.FinishRunAsync(new GcRun(first, start, start.AddSeconds(2), true, "cli", 3, 300, 1, 0, null), Ct);
        var second = await Gc.StartRunAsync(start.AddMinutes(1), dryRun: false, "schedule", Ct);

        var runs = await Gc.ListRunsAsync(null, 10, Ct);
        Assert.Equal([second, first], runs.Select(r => r.Id));
        Assert.Null(runs[0].FinishedAt);
        Assert.Equal(new GcRun(first, start, start.AddSeconds(2), true, "cli", 3, 300, 1, 0, null), runs[1]);
        Assert.Equal(TimeSpan.FromSeconds(2), runs[1].Duration);
        Assert.Equal([first], (await Gc.ListRunsAsync(second, 10, Ct)).Select(r => r.Id));
    }
}

public sealed class SqliteGcStoreTests : GcStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlGcStoreTests : GcStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;

    /// <summary>Bounds a claim that would wait for the other session: a hang fails the test instead of stalling it.</summary>
    private static readonly TimeSpan NoWait = TimeSpan.FromMinutes(1);

    [Theory]
    [InlineData("SELECT 1 FROM repository_blobs WHERE digest = @digest FOR KEY SHARE")] // a manifest push checked the link
    [InlineData("SELECT 1 FROM blobs WHERE digest = @digest FOR UPDATE")] // a link or upload commit holds the row
    public async Task A_page_claim_skips_a_blob_that_a_push_in_progress_holds_instead_of_waiting_for_it(string pushLock)
    {
        var held = BlobDigest("held");
        var free = BlobDigest("free");
        await Database.Registry.LinkBlobAsync("team/app", held, 1, Ct);
        await Database.Registry.LinkBlobAsync("team/app", free, 2, Ct);
        var cutoff = Later;

        await using var push = new Npgsql.NpgsqlConnection(Database.PostgreSqlConnectionString);
        await push.OpenAsync(Ct);
        await using (var transaction = await push.BeginTransactionAsync(Ct))
        {
            await Dapper.SqlMapper.ExecuteScalarAsync(push, pushLock, new { digest = held.ToString() }, transaction);
            var claimed = await Database.Gc.TryMarkDeletingAsync([held, free], cutoff, Ct).WaitAsync(NoWait, Ct);
            Assert.Equal([new GcBlob(free, 2)], claimed);
            await transaction.RollbackAsync(Ct);
        }
        Assert.Equal(1, await Database.Registry.GetLinkedBlobSizeAsync("team/app", held, Ct));
        Assert.Equal([new GcBlob(held, 1)], await Database.Gc.TryMarkDeletingAsync([held, free], cutoff, Ct).WaitAsync(NoWait, Ct));
    }

    [Fact]
    public async Task A_page_of_manifest_deletions_skips_a_manifest_that_a_push_in_progress_holds_instead_of_waiting_for_it()
    {
        var held = new GcManifest("team/app", (await PushImageAsync("team/app", "held", null)).Digest);
        var free = new GcManifest("team/app", (await PushImageAsync("team/app", "free", null)).Digest);
        static RegistryChange Change(GcManifest m) => new ManifestDeleted(m.Repository, m.Digest, ChangeActor.Server, DateTimeOffset.UnixEpoch);

        await using var push = new Npgsql.NpgsqlConnection(Database.PostgreSqlConnectionString);
        await push.OpenAsync(Ct);
        await using (var transaction = await push.BeginTransactionAsync(Ct))
        {
            // As a push of the same manifest does before it tags it.
            await Dapper.SqlMapper.ExecuteScalarAsync(push, "SELECT 1 FROM manifests WHERE digest = @digest FOR KEY SHARE", new { digest = held.Digest.ToString() }, transaction);
            Assert.Equal([free], await Database.Gc.TryDeleteUnkeptManifestsAsync([held, free], Later, Change, Ct).WaitAsync(NoWait, Ct));
            await transaction.RollbackAsync(Ct);
        }
        Assert.Equal([held], await Database.Gc.TryDeleteUnkeptManifestsAsync([held, free], Later, Change, Ct).WaitAsync(NoWait, Ct));
    }
}
