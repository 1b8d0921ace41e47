using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Server.Repositories;
using Wharf.Server.Tests.Registry;
using static Wharf.Server.Tests.Repositories.RepositoriesApiTests;

namespace Wharf.Server.Tests.Repositories;

/// <summary><c>/api/v1/search</c> without <c>q</c> browses: every repository the caller may pull, most pulled first, in keyset pages.</summary>
public class BrowseSearchTests : RegistryTestBase
{
    private async Task CreateAsync(string name, string visibility = "public")
    {
        using var response = await Http.PostAsync("api/v1/repositories", Json(JsonSerializer.Serialize(new { @namespace = "acme", name, visibility })));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task PullAsync(string repository, int times)
    {
        for (var i = 0; i < times; i++) (await Http.GetAsync($"v2/{repository}/manifests/v1")).EnsureSuccessStatusCode();
    }

    private async Task<(List<string> Names, string? Cursor)> BrowseAsync(string query)
    {
        var page = await OkJsonAsync(await Http.GetAsync("api/v1/search" + query));
        var cursor = page.GetProperty("next_cursor");
        return (page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()!).ToList(),
            cursor.ValueKind == JsonValueKind.String ? cursor.GetString() : null);
    }

    /// <summary>Five repositories: gamma pulled 3 times, beta 2, alpha 1, delta and epsilon never.</summary>
    private async Task SeedAsync()
    {
        foreach (var name in new[] { "epsilon", "delta", "alpha", "beta", "gamma" }) await CreateAsync(name);
        foreach (var (name, pulls) in new[] { ("alpha", 1), ("beta", 2), ("gamma", 3) })
        {
            await Registry.PushImageAsync("acme/" + name, "v1", name);
            await PullAsync("acme/" + name, pulls);
        }
        await Server.Services.GetRequiredService<PullCountFlushService>().FlushAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?q=")]
    [InlineData("?q=%20%20")]
    public async Task Without_Words_Lists_Every_Repository_Most_Pulled_First(string query)
    {
        await SeedAsync();
        var (names, cursor) = await BrowseAsync(query);
        Assert.Equal(["acme/gamma", "acme/beta", "acme/alpha", "acme/delta", "acme/epsilon"], names);
        Assert.Null(cursor);
    }

    [Fact]
    public async Task Browse_Pages_Follow_The_Cursor_Without_Gaps_Or_Repeats()
    {
        await SeedAsync();
        var paged = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var (names, next) = await BrowseAsync("?limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            Assert.True(names.Count <= 2);
            paged.AddRange(names);
            cursor = next;
            pages++;
        } while (cursor is not null);
        Assert.Equal(3, pages);
        Assert.Equal(["acme/gamma", "acme/beta", "acme/alpha", "acme/delta", "acme/epsilon"], paged);
    }

    [Fact]
    public async Task Browse_Filters_By_Namespace_And_Visibility()
    {
        await SeedAsync();
        await CreateAsync("hidden", "private");
        using (var other = await Http.PostAsync("api/v1/repositories", Json("""{"namespace":"other","name":"thing","visibility":"public"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        }
        Assert.Equal(["acme/hidden"], (await BrowseAsync("?visibility=private")).Names);
        Assert.Equal(["other/thing"], (await BrowseAsync("?namespace=other")).Names);
        Assert.Equal(7, (await BrowseAsync("")).Names.Count);
    }

    [Theory]
    [InlineData("?cursor=bm9wZQ")]
    [InlineData("?cursor=YjoxOmJhZCBuYW1l")]
    [InlineData("?cursor=YjpYOmFjbWUvYQ")]
    [InlineData("?limit=0")]
    public async Task Bad_Browse_Cursors_And_Limits_Are_400_Problems(string query)
    {
        await AssertProblemAsync(await Http.GetAsync("api/v1/search" + query), HttpStatusCode.BadRequest);
    }
}
