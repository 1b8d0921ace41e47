using System.Net;
using Wharf.Testing;

namespace Wharf.Server.Tests.RealClients;

/// <summary>
/// Checks the credential-protected <see cref="ReferenceRegistry"/> (the stand-in for Docker Hub in push-to-external
/// tests): anonymous access is refused, real clients get through with the credentials.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class ReferenceRegistryAuthTests
{
    [Fact]
    public async Task Htpasswd_Registry_Refuses_Anonymous_And_Accepts_Credentials()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("ra");
        await using var registry = await ReferenceRegistry.StartAsync(
            new ReferenceRegistryOptions { Credentials = new RegistryCredentials("hubuser", "s3cret-pass") }, ct);

        using (var http = new HttpClient())
        using (var response = await http.GetAsync(new Uri($"{registry.BaseUrl}/v2/"), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        }

        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 64 * 1024, Seed = 3 });
        var layout = await image.WriteOciLayoutAsync(dir.Combine("layout"), "1", ct);
        var remote = $"docker://{registry.HostPort}/hubuser/app:1";

        var anonymous = await ExternalTool.RunAsync("skopeo",
            ["--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-no-creds", layout.Reference, remote], cancellationToken: ct);
        Assert.False(anonymous.Succeeded, "an anonymous push must be refused:" + Environment.NewLine + anonymous.Describe());

        await Skopeo.CopyAsync(layout.Reference, remote, registry, ct);
        var served = await RegistryHttp.GetManifestAsync(registry, "hubuser/app", "1", ct);
        Assert.Equal(image.ManifestDigest, served.Digest);

        var buildah = Buildah.In(dir);
        await buildah.RunAsync(["pull", "--quiet", "--tls-verify=false", "--creds", registry.Credentials!.AsCredsArgument, remote], ct);
    }
}
