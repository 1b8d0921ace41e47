using System.Net;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class UploadRestartTests : RegistryTestBase
{
    [Fact]
    public async Task ChunkedUploadResumesAfterServerRestart()
    {
        var content = new byte[256 * 1024 + 17];
        new Random(42).NextBytes(content);
        var digest = Digest.Compute(content);
        var half = content.Length / 2;

        using var post = await Http.PostAsync("v2/lib/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = post.Headers.Location!;

        var first = Octets(content[..half]);
        first.Headers.TryAddWithoutValidation("Content-Range", $"0-{half - 1}");
        using (var patch = await Http.PatchAsync(RelativePath(location), first)) Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);

        await Server.RestartAsync();
        using var http = Server.CreateClient();

        using (var status = await http.GetAsync(RelativePath(location)))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            Assert.Equal($"0-{half - 1}", Header(status, "Range"));
            location = status.Headers.Location!;
        }

        var rest = Octets(content[half..]);
        rest.Headers.TryAddWithoutValidation("Content-Range", $"{half}-{content.Length - 1}");
        using (var patch = await http.PatchAsync(RelativePath(location), rest))
        {
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            Assert.Equal($"0-{content.Length - 1}", Header(patch, "Range"));
        }
        using (var put = await http.PutAsync(WithQuery(location, "digest=" + digest), null))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        }
        using var get = await http.GetAsync($"v2/lib/app/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var body = await get.Content.ReadAsByteArrayAsync();
        Assert.Equal(digest, Digest.Compute(body));
    }

    [Fact]
    public async Task PushedContentSurvivesRestart()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        await Server.RestartAsync();
        using var http = Server.CreateClient();
        using var get = await http.GetAsync("v2/lib/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Bytes(image.Json), await get.Content.ReadAsByteArrayAsync());
        using var blob = await http.GetAsync($"v2/lib/app/blobs/{image.Layer}");
        Assert.Equal(HttpStatusCode.OK, blob.StatusCode);
    }
}
