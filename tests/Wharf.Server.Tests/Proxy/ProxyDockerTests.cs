using Wharf.Core.Accounts;
using Wharf.Server.Tests.RealClients;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary><c>docker pull</c> through a proxy namespace, with a private dockerd (the shared test daemon).</summary>
[Trait("Category", "RealClients")]
[Collection(DockerDaemonCollection.Name)]
public sealed class ProxyDockerTests(DockerDaemonFixture docker)
{
    [Fact]
    public async Task Docker_pulls_an_image_only_the_upstream_holds_through_the_proxy_namespace_with_its_digest()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pd");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var image = TestImages.Busybox();
        await ProxySetup.SeedAsync(upstream, image, "library/busybox", "1", dir, ct);
        await using var wharf = await WharfTestServer.StartAsync(AuthMode.Accounts, null, ProxySetup.Namespace("hub", upstream.BaseUrl));
        var reference = $"{wharf.HostPort}/hub/library/busybox:1";
        try
        {
            await docker.DockerCheckedAsync(["pull", reference], ct);
            var digests = await docker.DockerCheckedAsync(["image", "inspect", "--format", "{{json .RepoDigests}}", reference], ct);
            Assert.Contains($"{wharf.HostPort}/hub/library/busybox@{image.ManifestDigest}", digests.StandardOutput, StringComparison.Ordinal);
            var run = await docker.DockerCheckedAsync(["run", "--rm", "--network", "none", reference, "echo", "pulled-through"], ct);
            Assert.Contains("pulled-through", run.StandardOutput, StringComparison.Ordinal);

            await docker.DockerCheckedAsync(["rmi", reference], ct);
            await ProxySetup.FlushAccessLogAsync(upstream, ct);
            var layerGets = image.Layers.Sum(l => ProxySetup.BlobGets(upstream, l.Digest));
            await docker.DockerCheckedAsync(["pull", reference], ct);
            await ProxySetup.FlushAccessLogAsync(upstream, ct);
            Assert.Equal(layerGets, image.Layers.Sum(l => ProxySetup.BlobGets(upstream, l.Digest)));
        }
        finally
        {
            await docker.DockerAsync(["rmi", "--force", reference], CancellationToken.None);
        }
    }
}
