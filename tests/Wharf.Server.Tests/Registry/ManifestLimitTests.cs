using System.Net;
using Wharf.Core;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public sealed class ManifestLimitTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Registry:MaxManifestBytes=2048"];

    private async Task<string> ManifestOfSizeAsync(int padding)
    {
        var config = Bytes("{}");
        var digest = await Registry.PushBlobAsync("lib/app", config);
        return ImageManifest((digest, config.Length), [], annotationsJson: $$"""{"pad":"{{new string('x', padding)}}"}""");
    }

    [Fact]
    public async Task ManifestOverTheLimitIs413()
    {
        var json = await ManifestOfSizeAsync(3000);
        using var put = await Registry.PutManifestAsync("lib/app", "big", json);
        await AssertErrorAsync(put, HttpStatusCode.RequestEntityTooLarge, "MANIFEST_INVALID");
        using var get = await Http.GetAsync("v2/lib/app/manifests/big");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task StreamedManifestOverTheLimitIs413()
    {
        var json = await ManifestOfSizeAsync(3000);
        var content = new StreamedContent(Bytes(json));
        content.Headers.ContentType = new(MediaTypes.OciManifest);
        using var put = await Http.PutAsync("v2/lib/app/manifests/big", content);
        await AssertErrorAsync(put, HttpStatusCode.RequestEntityTooLarge, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task ManifestUnderTheLimitIsAccepted()
    {
        var json = await ManifestOfSizeAsync(1000);
        await Registry.PushManifestAsync("lib/app", "small", json);
    }
}
