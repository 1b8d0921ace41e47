using System.Net;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public sealed class NameValidationTests : RegistryTestBase
{
    [Theory]
    [InlineData("v2/Upper/app/tags/list")]
    [InlineData("v2/lib/App/manifests/latest")]
    [InlineData("v2/a..b/tags/list")]
    [InlineData("v2/a/..b/manifests/latest")]
    [InlineData("v2/-a/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("v2/a%20b/tags/list")]
    [InlineData("v2/a%0A/tags/list")]
    [InlineData("v2/a%2F..%2Fb/tags/list")]
    [InlineData("v2/a%2f..%2fb/manifests/latest")]
    [InlineData("v2/a//b/tags/list")]
    public async Task InvalidNameIs400NameInvalid(string path)
    {
        using var response = await Http.GetAsync(path);
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [InlineData("v2/a/../b/tags/list")]
    [InlineData("v2/a/%2E%2E/b/tags/list")]
    [InlineData("v2/../../etc/passwd")]
    [InlineData("v2/%2E%2E/%2E%2E/tags/list")]
    [InlineData("v2/a%5C..%5Cb/tags/list")]
    [InlineData("v2/a/tags/list/extra")]
    [InlineData("v2//tags/list")]
    [InlineData("v2/manifests/latest")]
    public async Task TraversalAndOddPathsAreRejectedNever500(string path)
    {
        using var get = await Http.GetAsync(path);
        Assert.True(get.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{path} answered {(int)get.StatusCode}");
        using var put = await Http.PutAsync(path, Octets(Bytes("{}")));
        Assert.True((int)put.StatusCode is >= 400 and < 500, $"PUT {path} answered {(int)put.StatusCode}");
    }

    [Fact]
    public async Task OverLongNameIs400NameInvalid()
    {
        var name = string.Join('/', Enumerable.Repeat(new string('a', 50), 5));
        using var response = await Http.GetAsync($"v2/{name}/tags/list");
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Fact]
    public async Task PushToInvalidNameCreatesNoRepository()
    {
        using (var put = await Registry.PutManifestAsync("a%0A", "latest", "{}")) Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        using var catalog = await Http.GetAsync("v2/_catalog");
        using var body = await ReadJsonAsync(catalog);
        Assert.Equal(0, body.RootElement.GetProperty("repositories").GetArrayLength());
    }
}
