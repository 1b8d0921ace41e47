using System.Net;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public sealed class DeleteDisabledTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Registry:DeleteEnabled=false"];

    [Fact]
    public async Task DeletesAreRefusedWith405UnsupportedWhenDisabled()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        using (var byDigest = await Http.DeleteAsync($"v2/lib/app/manifests/{image.Digest}")) await AssertErrorAsync(byDigest, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        using (var byTag = await Http.DeleteAsync("v2/lib/app/manifests/v1")) await AssertErrorAsync(byTag, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        using (var blob = await Http.DeleteAsync($"v2/lib/app/blobs/{image.Layer}")) await AssertErrorAsync(blob, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        using var still = await Http.GetAsync("v2/lib/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }
}
