using Wharf.Core.Registry;
using Wharf.Core.Accounts;
using Wharf.Core.Repositories;
using Wharf.Core.Search;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests;

/// <summary>
/// The behaviour every <see cref="IRepositoryStore"/> provider must have: metadata, tag details, listings filtered by
/// what the caller may read, and search with the same ranking rules everywhere (the providers' "broad" limit is
/// <see cref="MetadataTestDatabase.Stores.RelevanceRankedMatches"/> here).
/// </summary>
public abstract class RepositoryStoreContractTests : StoreContractTests
{
    private static readonly ReadFilter Admin = new(new CallerAccess("boss", true, true, [], []), RepositoryVisibility.Private);
    private static readonly ReadFilter Anonymous = new(new CallerAccess(null, false, true, [], []), RepositoryVisibility.Private);

    private IRepositoryStore Store => Database.Repositories;

    private Task CreateAsync(string repository, string? description = null, RepositoryVisibility visibility = RepositoryVisibility.Public) =>
        Store.CreateAsync(repository, visibility, description, null, null, Ct);

    private async Task<List<string>> SearchAsync(string text, ReadFilter? filter = null, string? @namespace = null, RepositoryVisibility? visibility = null, int offset = 0, int limit = 100) =>
        (await Store.SearchAsync(SearchQuery.Parse(text), filter ?? Admin, @namespace, visibility, offset, limit, Ct)).Select(h => h.Name).ToList();

    /// <summary>The repositories of the server's search ranking tests.</summary>
    private async Task SeedAsync()
    {
        await CreateAsync("acme/redis", "In-memory key value store");
        await CreateAsync("acme/redis-exporter", "Prometheus metrics for redis");
        await CreateAsync("bob/cache", "A cache in front of redis");
        await CreateAsync("redis/server", "Official build of the server");
        await CreateAsync("acme/rediscover", "Finds things again");
        await CreateAsync("carol/postgres", "Relational database");
        await CreateAsync("carol/nginx-proxy", "Reverse proxy with automatic TLS");
        await CreateAsync("dave/proxy", "HTTP proxy");
    }

    [Fact]
    public async Task Create_get_update_and_delete_a_repository()
    {
        Assert.Equal(CreateRepositoryOutcome.Created, await Store.CreateAsync("alice/app", RepositoryVisibility.Public, "An app", "# App", null, Ct));
        Assert.Equal(CreateRepositoryOutcome.Exists, await Store.CreateAsync("alice/app", RepositoryVisibility.Private, null, null, null, Ct));
        var info = (await Store.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!;
        Assert.Equal(("alice/app", "alice", RepositoryVisibility.Public, "An app", "# App", 0L), (info.Name, info.Namespace, info.Visibility, info.Description, info.Readme, info.TagCount));
        Assert.NotNull(info.UpdatedAt);

        Assert.True(await Store.UpdateAsync("alice/app", new RepositoryUpdate("Changed", null, RepositoryVisibility.Private), null, Ct));
        var changed = (await Store.GetAsync("alice/app", RepositoryVisibility.Public, Ct))!;
        Assert.Equal(("Changed", "# App", RepositoryVisibility.Private), (changed.Description, changed.Readme, changed.Visibility));
        Assert.True(await Store.UpdateAsync("alice/app", new RepositoryUpdate("", "", null), null, Ct));
        var cleared = (await Store.GetAsync("alice/app", RepositoryVisibility.Public, Ct))!;
        Assert.Null(cleared.Description);
        Assert.Null(cleared.Readme);
        Assert.False(await Store.UpdateAsync("alice/nothing", new RepositoryUpdate("x", null, null), null, Ct));

        var config = BlobDigest("c");
        await Database.Registry.LinkBlobAsync("alice/app", config, 7, Ct);
        var manifest = Image(config, []);
        await Database.Registry.PutManifestAsync("alice/app", manifest, ["v1"], null, Ct);
        Assert.Equal([manifest.Digest], (await Store.DeleteAsync("alice/app", null, Ct)).Manifests);
        Assert.Null(await Store.GetAsync("alice/app", RepositoryVisibility.Public, Ct));
        Assert.Equal(DeleteStatus.NotFound, (await Store.DeleteAsync("alice/app", null, Ct)).Status);
        Assert.False(await Database.Registry.RepositoryExistsAsync("alice/app", Ct));
    }

    [Fact]
    public async Task A_repository_made_by_a_push_has_the_default_visibility_and_no_namespace_when_it_has_one_component()
    {
        await Database.Registry.EnsureRepositoryAsync("busybox", Ct);
        var info = (await Store.GetAsync("busybox", RepositoryVisibility.Public, Ct))!;
        Assert.Null(info.Namespace);
        Assert.Equal(RepositoryVisibility.Public, info.Visibility);
        Assert.Equal(RepositoryVisibility.Private, (await Store.GetAsync("busybox", RepositoryVisibility.Private, Ct))!.Visibility);
    }

    [Fact]
    public async Task Pushes_record_details_labels_and_counters_and_tags_list_them()
    {
        await CreateAsync("alice/app");
        var config = BlobDigest("c");
        var layer = BlobDigest("l");
        await Database.Registry.LinkBlobAsync("alice/app", config, 7, Ct);
        await Database.Registry.LinkBlobAsync("alice/app", layer, 100, Ct);
        var manifest = Image(config, [layer]);
        await Database.Registry.PutManifestAsync("alice/app", manifest, ["v1", "latest"], null, Ct);
        var at = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var labels = new Dictionary<string, string> { ["org.opencontainers.image.title"] = "Gizmo", ["maintainer"] = "ops" };
        await Store.RecordPushAsync("alice/app", manifest.Digest, new ManifestDetails(107, ["linux/amd64"], labels), true, at, Ct);

        var info = (await Store.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!;
        Assert.Equal((1L, at, 2L), (info.PushCount, info.LastPushedAt!.Value, info.TagCount));
        // A limited count stops at the limit; everything else reads the same.
        Assert.Equal(info with { TagCount = 1 }, await Store.GetAsync("alice/app", RepositoryVisibility.Private, 1, Ct));
        Assert.Equal(info, await Store.GetAsync("alice/app", RepositoryVisibility.Private, 3, Ct));
        Assert.Equal(info with { TagCount = 0 }, await Store.GetAsync("alice/app", RepositoryVisibility.Private, 0, Ct));
        Assert.Null(await Store.GetAsync("alice/nothing", RepositoryVisibility.Private, 3, Ct));
        var tags = await Store.ListTagsAsync("alice/app", null, 10, Ct);
        Assert.Equal(["latest", "v1"], tags.Select(t => t.Name));
        Assert.All(tags, t => Assert.Equal((manifest.Digest, 107L, "linux/amd64"), (t.Digest, t.Size!.Value, t.Platforms.Single())));
        Assert.Equal(["v1"], (await Store.ListTagsAsync("alice/app", "latest", 10, Ct)).Select(t => t.Name));
        var details = await Store.GetDetailsAsync("alice/app", [manifest.Digest, BlobDigest("none")], Ct);
        Assert.Equal("Gizmo", details[manifest.Digest].Labels!["org.opencontainers.image.title"]);
        Assert.Single(details);
        // Labels are searchable (lowest weight).
        Assert.Equal(["alice/app"], await SearchAsync("gizmo"));

        var pulled = at.AddMinutes(1);
        await Store.AddPullsAsync([new PullCounts("alice/app", 3, pulled, new Dictionary<string, DateTimeOffset> { ["v1"] = pulled })], Ct);
        await Store.AddPullsAsync([new PullCounts("alice/app", 2, at, new Dictionary<string, DateTimeOffset> { ["v1"] = at })], Ct);
        info = (await Store.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!;
        Assert.Equal((5L, pulled), (info.PullCount, info.LastPulledAt!.Value));
        var v1 = (await Store.ListTagsAsync("alice/app", "latest", 1, Ct)).Single();
        Assert.Equal(pulled, v1.LastPulledAt);
    }

    /// <summary>Tags t0..t4 pushed one after another (t0 first), each a manifest of its own; t1 and t3 are linux/arm64.</summary>
    private async Task<IReadOnlyList<string>> PushTagsAsync()
    {
        await CreateAsync("alice/app");
        var names = new List<string>();
        var start = DateTimeOffset.UtcNow;
        for (var i = 0; i < 5; i++)
        {
            var config = BlobDigest("config" + i);
            await Database.Registry.LinkBlobAsync("alice/app", config, 7, Ct);
            var manifest = Image(config, [], salt: "tag" + i);
            await Database.Registry.PutManifestAsync("alice/app", manifest, ["t" + i], null, Ct);
            await Store.RecordPushAsync("alice/app", manifest.Digest, new ManifestDetails(7, [i % 2 == 1 ? "linux/arm64" : "linux/amd64"], null), true, start.AddSeconds(i), Ct);
            names.Add("t" + i);
            await Task.Delay(5); // pushed times (milliseconds) differ
        }
        return names;
    }

    private async Task<List<string>> PagesAsync(TagSort sort, string? nameContains = null, string? platform = null)
    {
        var names = new List<string>();
        TagCursor? after = null;
        while (true)
        {
            var page = await Store.QueryTagsAsync("alice/app", new TagQuery(sort, nameContains, platform, after, 2), Ct);
            if (page.Count == 0) return names;
            names.AddRange(page.Select(t => t.Name));
            after = new TagCursor(sort, page[^1].PushedAt.ToUnixTimeMilliseconds(), page[^1].Name);
        }
    }

    [Fact]
    public async Task Tag_queries_sort_filter_and_page_by_keyset()
    {
        var pushed = await PushTagsAsync();
        Assert.Equal(pushed.Reverse(), await PagesAsync(TagSort.Newest));
        Assert.Equal(pushed, await PagesAsync(TagSort.Oldest));
        Assert.Equal(pushed, await PagesAsync(TagSort.NameAscending));
        Assert.Equal(pushed.Reverse(), await PagesAsync(TagSort.NameDescending));
        Assert.Equal(["t3", "t1"], await PagesAsync(TagSort.Newest, platform: "linux/arm64"));
        Assert.Equal(["t2"], await PagesAsync(TagSort.Newest, nameContains: "2"));
        Assert.Empty(await PagesAsync(TagSort.Newest, nameContains: "x", platform: "linux/arm64"));
        Assert.Empty(await PagesAsync(TagSort.Newest, platform: "linux/arm"));
    }

    [Fact]
    public async Task Recently_pushed_lists_pushed_repositories_newest_first_that_the_caller_may_read()
    {
        await CreateAsync("alice/never-pushed");
        var now = DateTimeOffset.UtcNow;
        foreach (var (name, minutes, visibility) in new[] { ("alice/old", 3, RepositoryVisibility.Public), ("alice/new", 1, RepositoryVisibility.Public), ("alice/hidden", 0, RepositoryVisibility.Private) })
        {
            await CreateAsync(name, visibility: visibility);
            var config = BlobDigest(name);
            await Database.Registry.LinkBlobAsync(name, config, 7, Ct);
            var manifest = Image(config, [], salt: name);
            await Database.Registry.PutManifestAsync(name, manifest, ["v1"], null, Ct);
            await Store.RecordPushAsync(name, manifest.Digest, new ManifestDetails(7, [], null), true, now.AddMinutes(-minutes), Ct);
        }
        Assert.Equal(["alice/new", "alice/old"], (await Store.ListRecentlyPushedAsync(Anonymous, null, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/hidden", "alice/new", "alice/old"], (await Store.ListRecentlyPushedAsync(Admin, null, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/hidden"], (await Store.ListRecentlyPushedAsync(Admin, RepositoryVisibility.Private, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/hidden"], (await Store.ListRecentlyPushedAsync(Admin, null, 1, Ct)).Select(h => h.Name));
    }

    [Fact]
    public async Task Listings_and_the_catalog_show_only_what_the_caller_may_read()
    {
        await CreateAsync("alice/open");
        await CreateAsync("alice/secret", visibility: RepositoryVisibility.Private);
        await CreateAsync("bob/secret", visibility: RepositoryVisibility.Private);
        await Database.Registry.EnsureRepositoryAsync("carol/unset", Ct);
        var bob = new ReadFilter(new CallerAccess("bob", false, true, ["bob"], ["bob"]), RepositoryVisibility.Private);

        Assert.Equal(["alice/open", "bob/secret"], (await Store.ListAsync(bob, null, null, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/open"], (await Store.ListAsync(Anonymous, null, null, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/open", "alice/secret"], (await Store.ListAsync(Admin, "alice", null, 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/secret", "bob/secret", "carol/unset"], (await Store.ListAsync(Admin, null, "alice/open", 10, Ct)).Select(h => h.Name));
        Assert.Equal(["alice/open", "alice/secret", "bob/secret", "carol/unset"], await Store.ListNamesAsync(Admin, null, 10, Ct));
        Assert.Equal(["alice/open", "bob/secret"], await Store.ListNamesAsync(bob, null, 10, Ct));
        Assert.Equal(["bob/secret"], await Store.ListNamesAsync(bob, "alice/open", 10, Ct));
        // Unset visibility reads as the default.
        var publicByDefault = Anonymous with { DefaultVisibility = RepositoryVisibility.Public };
        Assert.Equal(["alice/open", "carol/unset"], await Store.ListNamesAsync(publicByDefault, null, 10, Ct));
    }

    [Theory]
    // The same expectations as the server's search tests: exact name, then names starting with the query (whole words
    // before mere prefixes), then the rest by relevance; a shorter document ranks first.
    [InlineData("redis", new[] { "acme/redis", "acme/redis-exporter", "redis/server", "acme/rediscover", "bob/cache" })]
    [InlineData("proxy", new[] { "dave/proxy", "carol/nginx-proxy" })]
    [InlineData("nginx", new[] { "carol/nginx-proxy" })]
    [InlineData("redis exporter", new[] { "acme/redis-exporter" })]
    [InlineData("carol", new[] { "carol/postgres", "carol/nginx-proxy" })]
    [InlineData("relational", new[] { "carol/postgres" })]
    [InlineData("post", new[] { "carol/postgres" })]
    [InlineData("REDIS-Exporter", new[] { "acme/redis-exporter" })]
    [InlineData("prometheus metrics", new[] { "acme/redis-exporter" })]
    [InlineData("nothing-like-this", new string[0])]
    public async Task Search_ranks_the_same_on_every_provider(string query, string[] expected)
    {
        await SeedAsync();
        Assert.Equal(expected, await SearchAsync(query));
        Assert.Equal(expected.Length, await Store.CountSearchAsync(SearchQuery.Parse(query), Admin, Ct));
    }

    [Theory]
    [InlineData("\"")]
    [InlineData("redis\" OR *")]
    [InlineData("name:redis")]
    [InlineData("a & b | !c <-> d:*")]
    [InlineData("'; DROP TABLE repositories; --")]
    [InlineData("ünïcödé 数据库")]
    public async Task Search_syntax_in_user_input_never_fails(string query)
    {
        await SeedAsync();
        await SearchAsync(query);
        await Store.CountSearchAsync(SearchQuery.Parse(query), Anonymous, Ct);
    }

    [Fact]
    public async Task Search_finds_words_of_any_script_and_words_inside_punctuation()
    {
        await CreateAsync("acme/db", "Ein schnelles Datenbank-Werkzeug für 数据库 (v1.2.3, see docs@example.test)");
        foreach (var query in new[] { "datenbank", "werkzeug", "für", "数据库", "v1", "3", "docs", "example" })
        {
            Assert.True((await SearchAsync(query)).SequenceEqual(["acme/db"]), $"'{query}' did not find acme/db");
        }
    }

    [Fact]
    public async Task Search_filters_by_reader_namespace_and_visibility_and_pages()
    {
        await SeedAsync();
        await CreateAsync("acme/redis-private", "internal", RepositoryVisibility.Private);
        Assert.DoesNotContain("acme/redis-private", await SearchAsync("redis", Anonymous));
        Assert.Equal(["acme/redis-private"], await SearchAsync("redis", Admin, "acme", RepositoryVisibility.Private));
        Assert.Equal(["acme/redis", "acme/redis-private", "acme/redis-exporter", "acme/rediscover"], await SearchAsync("redis", Admin, "acme"));
        var all = await SearchAsync("redis");
        var paged = new List<string>();
        for (var offset = 0; offset < all.Count; offset += 2) paged.AddRange(await SearchAsync("redis", offset: offset, limit: 2));
        Assert.Equal(all, paged);
        Assert.Equal(5, await Store.CountSearchAsync(SearchQuery.Parse("redis"), Anonymous, Ct));
    }

    [Fact]
    public async Task Broad_searches_rank_exact_then_prefix_names_then_the_most_pulled()
    {
        // More matches than the broad limit (6): each tier is ordered by pulls, not relevance.
        foreach (var name in new[] { "alpha", "beta", "gamma", "delta", "epsilon" }) await CreateAsync("acme/" + name, "a service");
        await CreateAsync("acme/service", "the service itself");
        await CreateAsync("acme/service-tools", "tools for the service");
        await CreateAsync("acme/services", "many");
        var now = DateTimeOffset.UtcNow;
        await Store.AddPullsAsync(
        [
            new PullCounts("acme/beta", 30, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/delta", 20, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/alpha", 10, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/services", 5, now, new Dictionary<string, DateTimeOffset>()),
        ], Ct);
        var expected = new[] { "acme/service", "acme/services", "acme/service-tools", "acme/beta", "acme/delta", "acme/alpha", "acme/epsilon", "acme/gamma" };
        Assert.Equal(expected, await SearchAsync("service"));
        var paged = new List<string>();
        for (var offset = 0; offset < expected.Length; offset += 3) paged.AddRange(await SearchAsync("service", offset: offset, limit: 3));
        Assert.Equal(expected, paged);
        Assert.Equal(8, await Store.CountSearchAsync(SearchQuery.Parse("service"), Admin, Ct));
    }

    [Fact]
    public async Task Browse_lists_the_most_pulled_first_in_keyset_pages()
    {
        foreach (var name in new[] { "e", "d", "c", "b", "a" }) await CreateAsync("acme/" + name);
        await CreateAsync("acme/hidden", visibility: RepositoryVisibility.Private);
        var now = DateTimeOffset.UtcNow;
        await Store.AddPullsAsync(
        [
            new PullCounts("acme/c", 3, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/b", 3, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/e", 1, now, new Dictionary<string, DateTimeOffset>()),
            new PullCounts("acme/hidden", 9, now, new Dictionary<string, DateTimeOffset>()),
        ], Ct);
        var all = (await Store.BrowseAsync(Anonymous, null, null, null, 100, Ct)).Select(h => h.Name).ToList();
        Assert.Equal(["acme/b", "acme/c", "acme/e", "acme/a", "acme/d"], all);

        var paged = new List<string>();
        BrowsePosition? after = null;
        while (true)
        {
            var page = await Store.BrowseAsync(Anonymous, null, null, after, 2, Ct);
            if (page.Count == 0) break;
            paged.AddRange(page.Select(h => h.Name));
            after = new BrowsePosition(page[^1].PullCount, page[^1].Name);
        }
        Assert.Equal(all, paged);
        Assert.Equal(["acme/hidden"], (await Store.BrowseAsync(Admin, "acme", RepositoryVisibility.Private, null, 10, Ct)).Select(h => h.Name));
        Assert.Empty(await Store.BrowseAsync(Admin, "nobody", null, null, 10, Ct));
    }

    [Fact]
    public async Task Text_with_control_characters_is_stored_and_searchable()
    {
        Assert.Equal(CreateRepositoryOutcome.Created, await Store.CreateAsync("alice/odd", RepositoryVisibility.Public, "nul\0here", "readme\0", null, Ct));
        var info = (await Store.GetAsync("alice/odd", RepositoryVisibility.Public, Ct))!;
        Assert.StartsWith("nul", info.Description);
        Assert.Equal(["alice/odd"], await SearchAsync("here"));
    }
}

public sealed class SqliteRepositoryStoreTests : RepositoryStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlRepositoryStoreTests : RepositoryStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
