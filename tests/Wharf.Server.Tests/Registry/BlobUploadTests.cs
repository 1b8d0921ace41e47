using System.Net;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class BlobUploadTests : RegistryTestBase
{
    private static readonly byte[] Content = Bytes("0123456789abcdefghijklmnopqrstuvwxyz");

    private async Task<Uri> StartUploadAsync(string repository = "team/app", string query = "")
    {
        using var post = await Http.PostAsync($"v2/{repository}/blobs/uploads/{query}", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        AssertApiVersion(post);
        return post.Headers.Location!;
    }

    private static HttpRequestMessage Chunk(HttpMethod method, string uri, byte[] content, string? contentRange)
    {
        var body = Octets(content);
        if (contentRange is not null) body.Headers.TryAddWithoutValidation("Content-Range", contentRange);
        return new HttpRequestMessage(method, uri) { Content = body };
    }

    private async Task AssertBlobAsync(string repository, Digest digest, byte[] expected)
    {
        using var get = await Http.GetAsync($"v2/{repository}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(expected, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
    }

    [Fact]
    public async Task PostStartsSessionWithLocationUuidAndEmptyRange()
    {
        using var post = await Http.PostAsync("v2/team/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        AssertApiVersion(post);
        var location = post.Headers.Location!.OriginalString;
        var uuid = Header(post, "Docker-Upload-UUID");
        Assert.NotNull(uuid);
        Assert.Equal($"/v2/team/app/blobs/uploads/{uuid}", location);
        Assert.Equal("0-0", Header(post, "Range"));
        Assert.Equal(0, post.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task PostThenMonolithicPutStoresBlob()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();
        using var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), Octets(Content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        AssertApiVersion(put);
        Assert.Equal($"/v2/team/app/blobs/{digest}", put.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task SinglePostWithDigestStoresBlobAt201()
    {
        var digest = Digest.Compute(Content);
        using var post = await Http.PostAsync($"v2/team/app/blobs/uploads/?digest={digest}", Octets(Content));
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        AssertApiVersion(post);
        Assert.Equal($"/v2/team/app/blobs/{digest}", post.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), Header(post, "Docker-Content-Digest"));
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task SinglePostWithWrongDigestIsDigestInvalidAndStoresNothing()
    {
        var wrong = Digest.Compute(Bytes("other"));
        using var post = await Http.PostAsync($"v2/team/app/blobs/uploads/?digest={wrong}", Octets(Content));
        await AssertErrorAsync(post, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{wrong}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task SinglePostWithInvalidDigestIs400()
    {
        using var post = await Http.PostAsync("v2/team/app/blobs/uploads/?digest=sha256:1234", Octets(Content));
        await AssertErrorAsync(post, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task ChunkedUploadWithOutOfOrderChunkAnswers416ThenResumesFromStatus()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();

        using (var first = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[..10], "0-9")))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            AssertApiVersion(first);
            Assert.Equal("0-9", Header(first, "Range"));
            Assert.Equal(location.OriginalString, first.Headers.Location!.OriginalString);
            location = first.Headers.Location!;
        }

        // Skips bytes 10-14: out of order.
        using (var skipped = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[15..20], "15-19")))
        {
            await AssertErrorAsync(skipped, (HttpStatusCode)416, "BLOB_UPLOAD_INVALID");
            Assert.Equal("0-9", Header(skipped, "Range"));
            Assert.Equal(location.OriginalString, skipped.Headers.Location!.OriginalString);
        }

        // Repeats bytes already received: also out of order.
        using (var repeated = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[..5], "0-4")))
        {
            await AssertErrorAsync(repeated, (HttpStatusCode)416, "BLOB_UPLOAD_INVALID");
        }

        using (var status = await Http.GetAsync(RelativePath(location)))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            AssertApiVersion(status);
            Assert.Equal("0-9", Header(status, "Range"));
            Assert.Equal(location.OriginalString, status.Headers.Location!.OriginalString);
            Assert.NotNull(Header(status, "Docker-Upload-UUID"));
        }

        using (var second = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[10..20], "10-19")))
        {
            Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
            Assert.Equal("0-19", Header(second, "Range"));
        }

        // The final chunk rides on the closing PUT.
        using (var put = await Http.SendAsync(Chunk(HttpMethod.Put, WithQuery(location, "digest=" + digest), Content[20..], $"20-{Content.Length - 1}")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        }
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task FinalChunkOutOfOrderInPutIs416()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();
        using var put = await Http.SendAsync(Chunk(HttpMethod.Put, WithQuery(location, "digest=" + digest), Content[5..], $"5-{Content.Length - 1}"));
        await AssertErrorAsync(put, (HttpStatusCode)416, "BLOB_UPLOAD_INVALID");
        Assert.Equal("0-0", Header(put, "Range"));
    }

    [Fact]
    public async Task ContentLengthThatDisagreesWithContentRangeIsRejected()
    {
        var location = await StartUploadAsync();
        using var patch = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[..10], "0-4"));
        await AssertErrorAsync(patch, HttpStatusCode.BadRequest, "SIZE_INVALID");
    }

    [Fact]
    public async Task MalformedContentRangeIsRejected()
    {
        var location = await StartUploadAsync();
        using var patch = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content[..10], "zero-nine"));
        await AssertErrorAsync(patch, HttpStatusCode.BadRequest, "BLOB_UPLOAD_INVALID");
    }

    [Fact]
    public async Task StreamedPatchWithoutContentRangeIsAcceptedLikeDocker()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();
        using var request = new HttpRequestMessage(HttpMethod.Patch, RelativePath(location)) { Content = new StreamedContent(Content) };
        using var patch = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        Assert.Null(request.Content.Headers.ContentLength);
        Assert.Equal($"0-{Content.Length - 1}", Header(patch, "Range"));

        using var put = await Http.PutAsync(WithQuery(patch.Headers.Location!, "digest=" + digest), null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task SeveralPatchesWithoutContentRangeAppendInOrder()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();
        foreach (var (start, end) in new[] { (0, 12), (12, 30), (30, Content.Length) })
        {
            using var patch = await Http.PatchAsync(RelativePath(location), Octets(Content[start..end]));
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            Assert.Equal($"0-{end - 1}", Header(patch, "Range"));
        }
        using var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task PutWithDigestThatDoesNotMatchContentIsDigestInvalid()
    {
        var wrong = Digest.Compute(Bytes("something else"));
        var location = await StartUploadAsync();
        using var put = await Http.PutAsync(WithQuery(location, "digest=" + wrong), Octets(Content));
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{wrong}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        using var real = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{Digest.Compute(Content)}"));
        Assert.Equal(HttpStatusCode.NotFound, real.StatusCode);
    }

    [Theory]
    [InlineData("digest=sha256:abc")]
    [InlineData("digest=SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("digest=md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("")]
    public async Task PutWithInvalidOrMissingDigestIs400DigestInvalid(string query)
    {
        var location = await StartUploadAsync();
        var uri = query.Length == 0 ? RelativePath(location) : WithQuery(location, query);
        using var put = await Http.PutAsync(uri, Octets(Content));
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task UnknownUploadIs404BlobUploadUnknownForEveryMethod()
    {
        var path = $"v2/team/app/blobs/uploads/{Guid.NewGuid():D}";
        var digest = Digest.Compute(Content);
        using (var get = await Http.GetAsync(path)) await AssertErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var patch = await Http.PatchAsync(path, Octets(Content))) await AssertErrorAsync(patch, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var put = await Http.PutAsync(path + "?digest=" + digest, Octets(Content))) await AssertErrorAsync(put, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var delete = await Http.DeleteAsync(path)) await AssertErrorAsync(delete, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var junk = await Http.GetAsync("v2/team/app/blobs/uploads/not-a-uuid")) await AssertErrorAsync(junk, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task UploadIsUnknownThroughAnotherRepository()
    {
        var location = await StartUploadAsync("team/app");
        var other = RelativePath(location).Replace("team/app", "team/other", StringComparison.Ordinal);
        using var get = await Http.GetAsync(other);
        await AssertErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using var patch = await Http.PatchAsync(other, Octets(Content));
        await AssertErrorAsync(patch, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task CancelAnswers204ThenSessionIsUnknown()
    {
        var location = await StartUploadAsync();
        using (var patch = await Http.PatchAsync(RelativePath(location), Octets(Content[..10]))) Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        using (var delete = await Http.DeleteAsync(RelativePath(location)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
            AssertApiVersion(delete);
        }
        using (var status = await Http.GetAsync(RelativePath(location))) await AssertErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var again = await Http.DeleteAsync(RelativePath(location))) await AssertErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task CompletedUploadSessionIsGone()
    {
        var digest = Digest.Compute(Content);
        var location = await StartUploadAsync();
        using (var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), Octets(Content))) Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var status = await Http.GetAsync(RelativePath(location));
        await AssertErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Sha512UploadWithDigestAlgorithmIsStoredUnderItsSha512Digest()
    {
        var digest = Digest.Compute(Content, Digest.Sha512);
        var location = await StartUploadAsync(query: "?digest-algorithm=sha512");
        using (var patch = await Http.SendAsync(Chunk(HttpMethod.Patch, RelativePath(location), Content, $"0-{Content.Length - 1}")))
        {
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        }
        using (var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), null))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
            Assert.StartsWith("sha512:", Header(put, "Docker-Content-Digest"), StringComparison.Ordinal);
        }
        await AssertBlobAsync("team/app", digest, Content);
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Content.Length, head.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task SinglePostWithSha512DigestStoresBlob()
    {
        var digest = Digest.Compute(Content, Digest.Sha512);
        using var post = await Http.PostAsync($"v2/team/app/blobs/uploads/?digest={digest}", Octets(Content));
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal(digest.ToString(), Header(post, "Docker-Content-Digest"));
        await AssertBlobAsync("team/app", digest, Content);
    }

    [Fact]
    public async Task UnsupportedDigestAlgorithmIs400()
    {
        using var post = await Http.PostAsync("v2/team/app/blobs/uploads/?digest-algorithm=md5", null);
        await AssertErrorAsync(post, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task EmptyBlobCanBePushed()
    {
        var digest = Digest.Compute([]);
        var location = await StartUploadAsync();
        using var put = await Http.PutAsync(WithQuery(location, "digest=" + digest), null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await AssertBlobAsync("team/app", digest, []);
    }

    [Fact]
    public async Task UploadToInvalidNameIsNameInvalid()
    {
        using var post = await Http.PostAsync("v2/Team/App/blobs/uploads/", null);
        await AssertErrorAsync(post, HttpStatusCode.BadRequest, "NAME_INVALID");
    }
}
