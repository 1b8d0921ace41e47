using System.Net;
using System.Text.Json;
using Wharf.Server.Tests.Registry;
using static Wharf.Server.Tests.Repositories.RepositoriesApiTests;

namespace Wharf.Server.Tests.Repositories;

/// <summary>
/// A query matching more repositories than <c>RelevanceRankedMatches</c> is ordered by name tier, then by pulls,
/// instead of by bm25 over every match (the limit is lowered here so a handful of repositories is "broad").
/// </summary>
public sealed class BroadSearchTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Database:RelevanceRankedMatches=2", "--Wharf:Repositories:CounterFlushInterval=00:00:00.100"];

    private async Task CreateAsync(string ns, string name, string description)
    {
        using var response = await Http.PostAsync("api/v1/repositories", Json(JsonSerializer.Serialize(new { @namespace = ns, name, description, visibility = "public" })));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task<List<string>> SearchAsync(string query)
    {
        var page = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=" + Uri.EscapeDataString(query)));
        return page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()!).ToList();
    }

    private async Task PullAsync(string repository, int times)
    {
        for (var i = 0; i < times; i++) (await Http.GetAsync($"v2/{repository}/manifests/v1")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Broad_Queries_Rank_Exact_Then_Prefix_Names_Then_The_Most_Pulled()
    {
        await CreateAsync("acme", "alpha", "a service");
        await CreateAsync("acme", "beta", "another service");
        await CreateAsync("acme", "gamma", "yet another service");
        await CreateAsync("acme", "service", "the service itself");
        await CreateAsync("acme", "service-tools", "tools for the service");
        await Registry.PushImageAsync("acme/alpha", "v1", "a");
        await Registry.PushImageAsync("acme/beta", "v1", "b");
        await PullAsync("acme/beta", 3);
        await PullAsync("acme/alpha", 1);

        var expected = new List<string> { "acme/service", "acme/service-tools", "acme/beta", "acme/alpha", "acme/gamma" };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        List<string> results;
        do
        {
            await Task.Delay(100);
            results = await SearchAsync("service");
        } while (!results.SequenceEqual(expected) && DateTime.UtcNow < deadline);
        Assert.Equal(expected, results);
    }

    [Fact]
    public async Task Broad_Query_Pages_Cross_From_Name_Matches_To_The_Rest_Without_Gaps_Or_Repeats()
    {
        foreach (var name in new[] { "service", "service-a", "alpha", "beta", "gamma" })
        {
            await CreateAsync("acme", name, "a service");
        }
        var all = await SearchAsync("service");
        Assert.Equal(5, all.Count);
        Assert.Equal(["acme/service", "acme/service-a"], all.Take(2));
        var paged = new List<string>();
        string? cursor = null;
        do
        {
            var page = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=service&limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            paged.AddRange(page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()!));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.GetProperty("next_cursor").GetString() : null;
        } while (cursor is not null);
        Assert.Equal(all, paged);
    }

    [Fact]
    public async Task Narrow_Queries_Under_The_Limit_Still_Rank_By_Relevance()
    {
        await CreateAsync("acme", "alpha", "a service");
        await CreateAsync("acme", "omega", "nothing to see");
        Assert.Equal(["acme/omega"], await SearchAsync("nothing"));
    }
}
