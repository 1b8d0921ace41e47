using System.Net;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public sealed class BaseEndpointTests : RegistryTestBase
{
    [Fact]
    public async Task GetBaseAnswers200WithEmptyJsonAndApiVersion()
    {
        using var response = await Http.GetAsync("v2/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiVersion(response);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GetBaseWithoutTrailingSlashAnswers200()
    {
        using var response = await Http.GetAsync("v2");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiVersion(response);
    }

    [Fact]
    public async Task HeadBaseAnswers200WithApiVersion()
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v2/"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiVersion(response);
    }

    [Fact]
    public async Task PostBaseIsUnsupportedWithAllowHeader()
    {
        using var response = await Http.PostAsync("v2/", null);
        await AssertErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task UnknownRouteIs404WithApiVersion()
    {
        using var response = await Http.GetAsync("v2/repo/nonsense/thing");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        AssertApiVersion(response);
    }

    [Theory]
    [InlineData("POST", "v2/repo/manifests/latest", "GET, HEAD, PUT, DELETE")]
    [InlineData("PATCH", "v2/repo/manifests/latest", "GET, HEAD, PUT, DELETE")]
    [InlineData("PUT", "v2/repo/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "GET, HEAD, DELETE")]
    [InlineData("POST", "v2/repo/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "GET, HEAD, DELETE")]
    [InlineData("GET", "v2/repo/blobs/uploads/", "POST")]
    [InlineData("POST", "v2/repo/blobs/uploads/3f1e1b1c-0d3a-4a8e-9a43-6a9b1f0b2c11", "GET, PATCH, PUT, DELETE")]
    [InlineData("DELETE", "v2/repo/tags/list", "GET")]
    [InlineData("PUT", "v2/repo/referrers/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "GET")]
    [InlineData("DELETE", "v2/_catalog", "GET")]
    public async Task UnknownMethodOnARouteIs405Unsupported(string method, string path, string allow)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent([]) };
        using var response = await Http.SendAsync(request);
        await AssertErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }
}
