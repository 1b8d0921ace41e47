using System.Net;
using System.Text.Json;
using Wharf.Core;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class DiscoveryTests : RegistryTestBase
{
    private static readonly string[] Tags = ["latest", "b", "a", "C", "1.0", "_x", "A-1"];

    private async Task PushTagsAsync(string repository)
    {
        var image = await Registry.PushImageAsync(repository, Tags[0]);
        foreach (var tag in Tags.Skip(1)) await Registry.PushManifestAsync(repository, tag, image.Json);
    }

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    private async Task<(string[] Items, string? Link)> GetPageAsync(string path, string property)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiVersion(response);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = await ReadJsonAsync(response);
        return (Strings(body.RootElement.GetProperty(property)), Header(response, "Link"));
    }

    [Fact]
    public async Task TagsListIsInAsciiOrderWithName()
    {
        await PushTagsAsync("lib/app");
        using var response = await Http.GetAsync("v2/lib/app/tags/list");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(Header(response, "Link"));
        using var body = await ReadJsonAsync(response);
        Assert.Equal("lib/app", body.RootElement.GetProperty("name").GetString());
        var expected = Tags.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["1.0", "A-1", "C", "_x", "a", "b", "latest"], expected);
        Assert.Equal(expected, Strings(body.RootElement.GetProperty("tags")));
    }

    [Fact]
    public async Task TagsListPagesWithNAndLastFollowingLinkHeaders()
    {
        await PushTagsAsync("lib/app");
        var (first, link) = await GetPageAsync("v2/lib/app/tags/list?n=3", "tags");
        Assert.Equal(["1.0", "A-1", "C"], first);
        Assert.Equal("</v2/lib/app/tags/list?n=3&last=C>; rel=\"next\"", link);

        var (second, link2) = await GetPageAsync(LinkTarget(link), "tags");
        Assert.Equal(["_x", "a", "b"], second);
        Assert.NotNull(link2);

        var (third, link3) = await GetPageAsync(LinkTarget(link2), "tags");
        Assert.Equal(["latest"], third);
        Assert.Null(link3);
    }

    [Fact]
    public async Task TagsListWithNEqualToTheCountHasNoLink()
    {
        await PushTagsAsync("lib/app");
        var (all, link) = await GetPageAsync($"v2/lib/app/tags/list?n={Tags.Length}", "tags");
        Assert.Equal(Tags.Length, all.Length);
        Assert.Null(link);
    }

    [Fact]
    public async Task TagsListWithLastOnlyStartsAfterIt()
    {
        await PushTagsAsync("lib/app");
        var (items, _) = await GetPageAsync("v2/lib/app/tags/list?last=a", "tags");
        Assert.Equal(["b", "latest"], items);
    }

    [Fact]
    public async Task TagsListWithNZeroIsEmptyWithoutLink()
    {
        await PushTagsAsync("lib/app");
        var (items, link) = await GetPageAsync("v2/lib/app/tags/list?n=0", "tags");
        Assert.Empty(items);
        Assert.Null(link);
    }

    [Fact]
    public async Task TagsListOfUnknownRepositoryIs404NameUnknown()
    {
        using var response = await Http.GetAsync("v2/no/such/tags/list");
        await AssertErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task TagsListWithInvalidNIs400()
    {
        await PushTagsAsync("lib/app");
        using var response = await Http.GetAsync("v2/lib/app/tags/list?n=-1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertApiVersion(response);
    }

    [Fact]
    public async Task CatalogListsRepositoriesInOrderWithPagination()
    {
        foreach (var name in new[] { "zeta", "alpha/one", "alpha/two", "beta", "alpha" }) await Registry.PushBlobAsync(name, "blob of " + name);
        var (all, noLink) = await GetPageAsync("v2/_catalog", "repositories");
        Assert.Equal(["alpha", "alpha/one", "alpha/two", "beta", "zeta"], all);
        Assert.Null(noLink);

        var (first, link) = await GetPageAsync("v2/_catalog?n=2", "repositories");
        Assert.Equal(["alpha", "alpha/one"], first);
        Assert.Equal("</v2/_catalog?n=2&last=alpha%2Fone>; rel=\"next\"", link);
        var (second, link2) = await GetPageAsync(LinkTarget(link), "repositories");
        Assert.Equal(["alpha/two", "beta"], second);
        var (third, link3) = await GetPageAsync(LinkTarget(link2), "repositories");
        Assert.Equal(["zeta"], third);
        Assert.Null(link3);

        var (none, zeroLink) = await GetPageAsync("v2/_catalog?n=0", "repositories");
        Assert.Empty(none);
        Assert.Null(zeroLink);
    }

    [Fact]
    public async Task CatalogOfEmptyRegistryIsEmpty()
    {
        var (items, link) = await GetPageAsync("v2/_catalog", "repositories");
        Assert.Empty(items);
        Assert.Null(link);
    }

    private static string LinkTarget(string? link)
    {
        Assert.NotNull(link);
        var start = link.IndexOf('<', StringComparison.Ordinal) + 1;
        var end = link.IndexOf('>', StringComparison.Ordinal);
        Assert.Contains("rel=\"next\"", link, StringComparison.Ordinal);
        return link[start..end].TrimStart('/');
    }
}
