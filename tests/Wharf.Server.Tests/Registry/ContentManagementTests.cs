using System.Net;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class ContentManagementTests : RegistryTestBase
{
    [Fact]
    public async Task DeleteManifestByDigestIs202ThenDigestAndItsTagsAre404()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        await Registry.PushManifestAsync("lib/app", "latest", image.Json);
        using (var delete = await Http.DeleteAsync($"v2/lib/app/manifests/{image.Digest}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
            AssertApiVersion(delete);
        }
        foreach (var reference in new[] { image.Digest.ToString(), "v1", "latest" })
        {
            using var get = await Http.GetAsync($"v2/lib/app/manifests/{reference}");
            await AssertErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        }
        using var tags = await Http.GetAsync("v2/lib/app/tags/list");
        using var body = await ReadJsonAsync(tags);
        Assert.Equal(0, body.RootElement.GetProperty("tags").GetArrayLength());
    }

    [Fact]
    public async Task DeleteTagIs202AndManifestStaysByDigest()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        await Registry.PushManifestAsync("lib/app", "latest", image.Json);
        using (var delete = await Http.DeleteAsync("v2/lib/app/manifests/v1")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        using (var byTag = await Http.GetAsync("v2/lib/app/manifests/v1")) await AssertErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using (var byDigest = await Http.GetAsync($"v2/lib/app/manifests/{image.Digest}")) Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
        using (var other = await Http.GetAsync("v2/lib/app/manifests/latest")) Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task DeleteUnknownManifestOrTagIs404()
    {
        await Registry.PushImageAsync("lib/app", "v1");
        using (var tag = await Http.DeleteAsync("v2/lib/app/manifests/nope")) await AssertErrorAsync(tag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using (var digest = await Http.DeleteAsync($"v2/lib/app/manifests/{Digest.Compute(Bytes("nope"))}")) await AssertErrorAsync(digest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteManifestInUnknownRepositoryIs404NameUnknown()
    {
        using var delete = await Http.DeleteAsync($"v2/no/such/manifests/{Digest.Compute(Bytes("x"))}");
        await AssertErrorAsync(delete, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task DeleteWithInvalidReferenceIs400()
    {
        using (var digest = await Http.DeleteAsync("v2/lib/app/manifests/sha256:zz")) await AssertErrorAsync(digest, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using (var tag = await Http.DeleteAsync("v2/lib/app/manifests/-tag")) await AssertErrorAsync(tag, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task ManifestCanBePushedAgainAfterDelete()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        using (var delete = await Http.DeleteAsync($"v2/lib/app/manifests/{image.Digest}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        await Registry.PushManifestAsync("lib/app", "v1", image.Json);
        using var get = await Http.GetAsync("v2/lib/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Bytes(image.Json), await get.Content.ReadAsByteArrayAsync());
    }
}
