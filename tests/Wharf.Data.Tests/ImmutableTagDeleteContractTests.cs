using Dapper;
using Npgsql;
using Wharf.Core.Events;
using Wharf.Core.Registry;

namespace Wharf.Data.Tests;

/// <summary>
/// Every delete path refuses, inside its own transaction, to remove a tag that an immutable pattern of the repository
/// holds: a tag by name, a manifest by digest that such a tag points at, the repository holding one, and a retention
/// pass whose tag was made immutable after it was judged. Nothing is deleted or journaled then.
/// </summary>
public abstract class ImmutableTagDeleteContractTests : StoreContractTests
{
    private IRegistryStore Registry => Database.Registry;

    [Fact]
    public async Task A_manifest_that_an_immutable_tag_points_at_is_not_deleted_by_digest()
    {
        var held = await PushTaggedImageAsync("team/app", "held", "latest", "v1");
        var free = await PushTaggedImageAsync("team/app", "free", "edge");
        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", [@"v\d+"], Ct));
        Database.Fault.FailNext = true; // a journaled change would throw: a refused delete journals nothing

        var refused = await Registry.DeleteManifestAsync("team/app", held.Digest, new ManifestDeleted("team/app", held.Digest, ChangeActor.Server, DateTimeOffset.UnixEpoch), Ct);
        Assert.Equal(DeleteStatus.ImmutableTag, refused.Status);
        Assert.Equal(("v1", @"v\d+"), (refused.Tag, refused.Rule));
        Assert.NotNull(await Registry.GetManifestAsync("team/app", held.Digest, Ct));
        Assert.Equal(held.Digest, await Registry.ResolveTagAsync("team/app", "latest", Ct)); // its other tags stay too
        Assert.True(Database.Fault.FailNext);
        Database.Fault.FailNext = false;

        Assert.True((await Registry.DeleteManifestAsync("team/app", free.Digest, null, Ct)).IsDeleted);
        Assert.Equal(DeleteStatus.NotFound, (await Registry.DeleteManifestAsync("team/app", free.Digest, null, Ct)).Status);
    }

    [Fact]
    public async Task An_immutable_tag_is_not_deleted_by_name_and_other_tags_are()
    {
        await PushTaggedImageAsync("team/app", "a", "latest", "v1");
        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", ["stable", @"v\d+"], Ct));

        var refused = await Registry.DeleteTagAsync("team/app", "v1", new TagDeleted("team/app", "v1", ChangeActor.Server, DateTimeOffset.UnixEpoch), Ct);
        Assert.Equal(DeleteStatus.ImmutableTag, refused.Status);
        Assert.Equal(@"v\d+", refused.Rule);
        Assert.NotNull(await Registry.ResolveTagAsync("team/app", "v1", Ct));

        Assert.True((await Registry.DeleteTagAsync("team/app", "latest", null, Ct)).IsDeleted);
        Assert.Equal(DeleteStatus.NotFound, (await Registry.DeleteTagAsync("team/app", "v2", null, Ct)).Status); // matching, but no such tag
        Assert.Equal(DeleteStatus.NotFound, (await Registry.DeleteTagAsync("team/none", "v1", null, Ct)).Status);
    }

    [Fact]
    public async Task A_repository_holding_an_immutable_tag_is_not_deleted_until_the_rule_goes()
    {
        var manifest = await PushTaggedImageAsync("team/app", "a", "v1");
        await PushTaggedImageAsync("team/other", "b", "v1");
        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", [@"v\d+"], Ct));
        Database.Fault.FailNext = true; // a journaled change would throw: a refused delete journals nothing

        var refused = await Database.Repositories.DeleteAsync("team/app", new RepositoryDeleted("team/app", ChangeActor.Server, DateTimeOffset.UnixEpoch), Ct);
        Assert.Equal(DeleteStatus.ImmutableTag, refused.Status);
        Assert.Equal("v1", refused.Tag);
        Assert.True(await Registry.RepositoryExistsAsync("team/app", Ct));
        Assert.True(Database.Fault.FailNext);
        Database.Fault.FailNext = false;
        Assert.True((await Database.Repositories.DeleteAsync("team/other", null, Ct)).IsDeleted); // its patterns are its own

        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", [], Ct));
        var deleted = await Database.Repositories.DeleteAsync("team/app", null, Ct);
        Assert.True(deleted.IsDeleted);
        Assert.Equal([manifest.Digest], deleted.Manifests);
    }

    [Fact]
    public async Task Retention_does_not_delete_a_tag_made_immutable_after_it_was_judged()
    {
        await PushTaggedImageAsync("team/app", "a", "v1", "old");
        var judged = (await Database.Retention.ListTagsAsync("team/app", Ct)).ToDictionary(t => t.Tag);
        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", [@"v\d+"], Ct));

        Assert.False(await Database.Retention.TryDeleteTagAsync("team/app", judged["v1"], new TagDeleted("team/app", "v1", ChangeActor.Server, DateTimeOffset.UnixEpoch), Ct));
        Assert.True(await Database.Retention.TryDeleteTagAsync("team/app", judged["old"], new TagDeleted("team/app", "old", ChangeActor.Server, DateTimeOffset.UnixEpoch), Ct));
        Assert.Equal(["v1"], (await Database.Retention.ListTagsAsync("team/app", Ct)).Select(t => t.Tag));
    }
}

public sealed class SqliteImmutableTagDeleteTests : ImmutableTagDeleteContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlImmutableTagDeleteTests : ImmutableTagDeleteContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;

    [Fact]
    public async Task A_delete_by_digest_waits_for_a_push_that_tags_the_manifest_and_then_refuses()
    {
        var manifest = await PushTaggedImageAsync("team/app", "held", "latest");
        Assert.True(await Database.Policies.SetImmutableTagsAsync("team/app", [@"v\d+"], Ct));

        // Another client's push of the same manifest with the tag v1, in progress: it holds the manifest (FOR KEY SHARE),
        // as PutManifest does, and has tagged it, but not committed yet.
        await using var push = new NpgsqlConnection(Database.PostgreSqlConnectionString);
        await push.OpenAsync(Ct);
        await using var transaction = await push.BeginTransactionAsync(Ct);
        var id = await push.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = 'team/app' AND m.digest = @digest FOR KEY SHARE",
            new { digest = manifest.Digest.ToString() }, transaction, cancellationToken: Ct));
        await push.ExecuteAsync(new CommandDefinition(
            "INSERT INTO tags (repository_id, name, manifest_id, updated_at) SELECT repository_id, 'v1', id, 0 FROM manifests WHERE id = @id",
            new { id }, transaction, cancellationToken: Ct));

        var delete = Database.Registry.DeleteManifestAsync("team/app", manifest.Digest, null, Ct);
        await WaitForALockWaitAsync();
        Assert.False(delete.IsCompleted);
        await transaction.CommitAsync(Ct);

        var result = await delete.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(DeleteStatus.ImmutableTag, result.Status);
        Assert.Equal("v1", result.Tag);
        Assert.Equal(manifest.Digest, await Database.Registry.ResolveTagAsync("team/app", "v1", Ct));
    }

    /// <summary>Until a statement on this database waits for a row lock (the delete, for the push's transaction).</summary>
    private async Task WaitForALockWaitAsync()
    {
        await using var watch = new NpgsqlConnection(Database.PostgreSqlConnectionString);
        await watch.OpenAsync(Ct);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (await watch.ExecuteScalarAsync<long>(new CommandDefinition(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                   cancellationToken: deadline.Token)) == 0)
        {
            await Task.Delay(20, deadline.Token);
        }
    }
}
