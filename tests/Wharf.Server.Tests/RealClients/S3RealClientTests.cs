using System.Net;
using Wharf.Core.Accounts;
using Wharf.Testing;
using Wharf.Testing.Services;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

/// <summary>Real clients against a Wharf whose blobs live in the test gateway's bucket (S3), downloads redirected to presigned URLs.</summary>
[Trait("Category", "RealClients")]
public sealed class S3RealClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private WharfTestServer _server = null!;
    private IRegistryEndpoint _registry = null!;

    public async Task InitializeAsync()
    {
        var rgw = await CephRgwService.GetAsync();
        _server = await WharfTestServer.StartAsync(AuthMode.Open, null, [.. rgw.ServerArgs(rgw.NewPrefix("clients")), "--Wharf:Storage:S3:RedirectDownloads=true"]);
        _registry = new RegistryEndpoint(_server, _server.HostPort, _server.BaseUrl);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Skopeo_pushes_and_pulls_through_S3_with_redirected_downloads_and_identical_digests()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("s3");
        // One layer larger than two parts, so that it goes up as a multipart upload.
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 18 * 1024 * 1024, Seed = 7 });
        var source = await image.WriteOciLayoutAsync(dir.Combine("src"), "v1", ct);
        var remote = $"docker://{_registry.HostPort}/s3/roundtrip:v1";

        await Skopeo.CopyAsync(source.Reference, remote, _registry, ct);
        await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("back")}:v1", _registry, ct);

        var back = await TestImages.ReadOciLayoutAsync(dir.Combine("back"), "v1", ct);
        Assert.Equal(image.ManifestDigest, back.ManifestDigest);
        Assert.Equal(source.Layers.Select(l => l.Digest), back.Layers.Select(l => l.Digest));
        foreach (var layer in back.Layers)
        {
            var file = dir.Combine("back", "blobs", "sha256", layer.Digest["sha256:".Length..]);
            await using var stream = File.OpenRead(file);
            Assert.Equal(layer.Digest, Wharf.Core.Digests.Digest.FromHash("sha256", await System.Security.Cryptography.SHA256.HashDataAsync(stream, ct)).ToString());
        }

        // The blob GET was a redirect to the gateway itself (on loopback), which served the bytes.
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(_server.BaseUrl + "/") };
        using var get = await http.GetAsync($"v2/s3/roundtrip/blobs/{source.Layers[0].Digest}", ct);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, get.StatusCode);
        var location = get.Headers.Location!;
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(location.Host)), location.ToString());
        output.WriteLine($"redirected to {location.GetLeftPart(UriPartial.Path)}");
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/s3/roundtrip/blobs/{source.Layers[0].Digest}"), ct);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.True(head.Content.Headers.ContentLength > 1024 * 1024, $"HEAD gave {head.Content.Headers.ContentLength} bytes");
    }
}
