using Microsoft.Extensions.Time.Testing;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Retention;

namespace Wharf.Data.Tests;

/// <summary>
/// What every <see cref="IRetentionStore"/> provider keeps and decides: the rules per repository, the repositories that
/// have rules, their tags with push and pull times, and the tag delete that refuses a tag changed since it was judged
/// (moved to another manifest, pulled), journaled in the delete's own transaction.
/// </summary>
public abstract class RetentionStoreContractTests : StoreContractTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    protected override TimeProvider Time => _clock;

    private IRetentionStore Retention => Database.Retention;

    private IRegistryStore Registry => Database.Registry;

    private static RegistryChange Deleted(string repository, string tag) => new TagDeleted(repository, tag, ChangeActor.Server, DateTimeOffset.UnixEpoch);

    [Fact]
    public async Task Rules_are_kept_per_repository_and_only_repositories_with_rules_are_listed()
    {
        await PushTaggedImageAsync("team/app", "a", "v1");
        await PushTaggedImageAsync("team/other", "b", "v1");
        await PushTaggedImageAsync("team/plain", "c", "v1");
        Assert.True((await Retention.GetAsync("team/app", Ct))!.IsEmpty);
        Assert.Null(await Retention.GetAsync("team/none", Ct));
        Assert.False(await Retention.SetAsync("team/none", new RetentionPolicy(1, null, null), Ct));

        Assert.True(await Retention.SetAsync("team/app", new RetentionPolicy(3, 30, @"v\d+"), Ct));
        Assert.True(await Retention.SetAsync("team/other", new RetentionPolicy(null, null, "release-.*"), Ct));
        Assert.Equal(new RetentionPolicy(3, 30, @"v\d+"), await Retention.GetAsync("team/app", Ct));

        var listed = await Retention.ListAsync(null, 10, Ct);
        Assert.Equal(["team/app", "team/other"], listed.Select(r => r.Repository));
        Assert.Equal(new RetentionPolicy(null, null, "release-.*"), listed[1].Policy);
        Assert.Equal(["team/other"], (await Retention.ListAsync("team/app", 10, Ct)).Select(r => r.Repository));
        Assert.Equal(["team/app"], (await Retention.ListAsync(null, 1, Ct)).Select(r => r.Repository));

        // An empty policy removes the rules.
        Assert.True(await Retention.SetAsync("team/app", new RetentionPolicy(null, null, null), Ct));
        Assert.Equal(["team/other"], (await Retention.ListAsync(null, 10, Ct)).Select(r => r.Repository));
    }

    [Fact]
    public async Task Tags_come_with_what_they_point_at_and_when_they_were_pushed_and_pulled()
    {
        var first = await PushTaggedImageAsync("team/app", "a", "v1", "latest");
        _clock.Advance(TimeSpan.FromMinutes(5));
        var second = await PushTaggedImageAsync("team/app", "b", "v2");
        var pulledAt = _clock.GetUtcNow().AddMinutes(1);
        await Database.Repositories.AddPullsAsync([new PullCounts("team/app", 1, pulledAt, new Dictionary<string, DateTimeOffset> { ["v1"] = pulledAt })], Ct);

        var tags = (await Retention.ListTagsAsync("team/app", Ct)).OrderBy(t => t.Tag, StringComparer.Ordinal).ToList();
        Assert.Equal(["latest", "v1", "v2"], tags.Select(t => t.Tag));
        Assert.Equal([first.Digest, first.Digest, second.Digest], tags.Select(t => t.Digest));
        Assert.Equal(_clock.GetUtcNow().AddMinutes(-5), tags[1].PushedAt);
        Assert.Equal(_clock.GetUtcNow(), tags[2].PushedAt);
        Assert.Equal(pulledAt, tags[1].LastPulledAt);
        Assert.Null(tags[2].LastPulledAt);
        Assert.Empty(await Retention.ListTagsAsync("team/none", Ct));
    }

    [Fact]
    public async Task A_tag_is_deleted_only_while_it_is_the_one_that_was_judged()
    {
        var first = await PushTaggedImageAsync("team/app", "a", "moved", "pulled", "gone");
        var judged = (await Retention.ListTagsAsync("team/app", Ct)).ToDictionary(t => t.Tag);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await PushTaggedImageAsync("team/app", "b", "moved");                                         // points elsewhere now
        var pulledAt = _clock.GetUtcNow();
        await Database.Repositories.AddPullsAsync([new PullCounts("team/app", 1, pulledAt, new Dictionary<string, DateTimeOffset> { ["pulled"] = pulledAt })], Ct);

        Assert.False(await Retention.TryDeleteTagAsync("team/app", judged["moved"], Deleted("team/app", "moved"), Ct));
        Assert.False(await Retention.TryDeleteTagAsync("team/app", judged["pulled"], Deleted("team/app", "pulled"), Ct));
        Assert.True(await Retention.TryDeleteTagAsync("team/app", judged["gone"], Deleted("team/app", "gone"), Ct));
        Assert.False(await Retention.TryDeleteTagAsync("team/app", judged["gone"], Deleted("team/app", "gone"), Ct)); // once

        Assert.Equal(["moved", "pulled"], (await Retention.ListTagsAsync("team/app", Ct)).Select(t => t.Tag).Order(StringComparer.Ordinal));
        // The manifest stays: only the tag went (the collector's later step decides about the manifest).
        Assert.NotNull(await Registry.GetManifestAsync("team/app", first.Digest, Ct));
    }

    [Fact]
    public async Task A_tag_delete_whose_journal_fails_leaves_the_tag()
    {
        await PushTaggedImageAsync("team/app", "a", "old");
        var tag = Assert.Single(await Retention.ListTagsAsync("team/app", Ct));
        Database.Fault.FailNext = true;
        await Assert.ThrowsAsync<InvalidOperationException>(() => Retention.TryDeleteTagAsync("team/app", tag, Deleted("team/app", "old"), Ct));
        Assert.Equal(["old"], (await Retention.ListTagsAsync("team/app", Ct)).Select(t => t.Tag));
        Assert.True(await Retention.TryDeleteTagAsync("team/app", tag, Deleted("team/app", "old"), Ct));
    }
}

public sealed class SqliteRetentionStoreTests : RetentionStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlRetentionStoreTests : RetentionStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
