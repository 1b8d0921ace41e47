using System.Net;
using System.Net.Http.Headers;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class BlobPullTests : RegistryTestBase
{
    private static readonly byte[] Content = Bytes("The quick brown fox jumps over the lazy dog");

    [Fact]
    public async Task GetBlobReturnsBytesLengthAndDigest()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using var get = await Http.GetAsync($"v2/lib/app/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        AssertApiVersion(get);
        Assert.Equal(Content, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(Content.Length, get.Content.Headers.ContentLength);
        Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
        Assert.Equal("application/octet-stream", get.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task HeadBlobReturnsLengthAndDigestWithoutBody()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lib/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        AssertApiVersion(head);
        Assert.Equal(Content.Length, head.Content.Headers.ContentLength);
        Assert.Equal(digest.ToString(), Header(head, "Docker-Content-Digest"));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task RangeRequestReturns206WithContentRangeAndThoseBytes()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/lib/app/blobs/{digest}");
        request.Headers.Range = new RangeHeaderValue(4, 8);
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        AssertApiVersion(response);
        Assert.Equal($"bytes 4-8/{Content.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(Content[4..9], await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("quick", System.Text.Encoding.ASCII.GetString(await response.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task SuffixAndOpenEndedRangesReturnTheTail()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using var suffix = new HttpRequestMessage(HttpMethod.Get, $"v2/lib/app/blobs/{digest}");
        suffix.Headers.Range = new RangeHeaderValue(null, 3);
        using var suffixResponse = await Http.SendAsync(suffix);
        Assert.Equal(HttpStatusCode.PartialContent, suffixResponse.StatusCode);
        Assert.Equal(Bytes("dog"), await suffixResponse.Content.ReadAsByteArrayAsync());

        using var open = new HttpRequestMessage(HttpMethod.Get, $"v2/lib/app/blobs/{digest}");
        open.Headers.Range = new RangeHeaderValue(40, null);
        using var openResponse = await Http.SendAsync(open);
        Assert.Equal(HttpStatusCode.PartialContent, openResponse.StatusCode);
        Assert.Equal($"bytes 40-{Content.Length - 1}/{Content.Length}", openResponse.Content.Headers.ContentRange?.ToString());
        Assert.Equal(Content[40..], await openResponse.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task UnsatisfiableRangeIs416()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/lib/app/blobs/{digest}");
        request.Headers.Range = new RangeHeaderValue(1000, 2000);
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        AssertApiVersion(response);
        Assert.Equal($"bytes */{Content.Length}", response.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task UnknownBlobIs404BlobUnknown()
    {
        var digest = Digest.Compute(Bytes("never pushed"));
        await Registry.PushBlobAsync("lib/app", Content);
        using var get = await Http.GetAsync($"v2/lib/app/blobs/{digest}");
        var error = await AssertErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        Assert.Equal(digest.ToString(), error.GetProperty("detail").GetProperty("digest").GetString());
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lib/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        AssertApiVersion(head);
    }

    [Fact]
    public async Task BlobInvalidDigestIs400DigestInvalid()
    {
        using var get = await Http.GetAsync("v2/lib/app/blobs/sha256:nothex");
        await AssertErrorAsync(get, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var delete = await Http.DeleteAsync("v2/lib/app/blobs/latest");
        await AssertErrorAsync(delete, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task BlobIsReadableOnlyThroughARepositoryThatLinksIt()
    {
        var digest = await Registry.PushBlobAsync("team-a/app", Content);
        using var get = await Http.GetAsync($"v2/team-b/app/blobs/{digest}");
        await AssertErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team-b/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        using var ranged = new HttpRequestMessage(HttpMethod.Get, $"v2/team-b/app/blobs/{digest}");
        ranged.Headers.Range = new RangeHeaderValue(0, 3);
        using var rangedResponse = await Http.SendAsync(ranged);
        await AssertErrorAsync(rangedResponse, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task MountFromRepositoryThatLinksTheBlobIs201()
    {
        var digest = await Registry.PushBlobAsync("source/app", Content);
        using var mount = await Http.PostAsync($"v2/target/app/blobs/uploads/?mount={digest}&from=source/app", null);
        Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        AssertApiVersion(mount);
        Assert.Equal($"/v2/target/app/blobs/{digest}", mount.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), Header(mount, "Docker-Content-Digest"));
        using var get = await Http.GetAsync($"v2/target/app/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Content, await get.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("other/app")] // source does not link the blob
    [InlineData("Invalid/NAME")] // source name invalid
    [InlineData("")] // no from
    public async Task MountThatCannotBeDoneFallsBackTo202Session(string from)
    {
        var digest = await Registry.PushBlobAsync("source/app", Content);
        await Registry.PushBlobAsync("other/app", Bytes("something else"));
        using var mount = await Http.PostAsync($"v2/target/app/blobs/uploads/?mount={digest}&from={from}", null);
        Assert.Equal(HttpStatusCode.Accepted, mount.StatusCode);
        AssertApiVersion(mount);
        var location = mount.Headers.Location!;
        Assert.StartsWith("/v2/target/app/blobs/uploads/", location.OriginalString, StringComparison.Ordinal);
        using (var notMounted = await Http.GetAsync($"v2/target/app/blobs/{digest}")) Assert.Equal(HttpStatusCode.NotFound, notMounted.StatusCode);
        // The session is usable: the client uploads the blob itself.
        using var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), Octets(Content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task DeleteBlobIs202ThenBlobIsUnknown()
    {
        var digest = await Registry.PushBlobAsync("lib/app", Content);
        using (var delete = await Http.DeleteAsync($"v2/lib/app/blobs/{digest}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
            AssertApiVersion(delete);
        }
        using (var get = await Http.GetAsync($"v2/lib/app/blobs/{digest}")) await AssertErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using (var again = await Http.DeleteAsync($"v2/lib/app/blobs/{digest}")) await AssertErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task DeleteBlobInOneRepositoryKeepsItInAnother()
    {
        var digest = await Registry.PushBlobAsync("lib/one", Content);
        await Registry.PushBlobAsync("lib/two", Content);
        using (var delete = await Http.DeleteAsync($"v2/lib/one/blobs/{digest}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        using var get = await Http.GetAsync($"v2/lib/two/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Content, await get.Content.ReadAsByteArrayAsync());
    }
}
