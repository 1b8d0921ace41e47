using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

[Trait("Category", "RealClients")]
public sealed class MultiArchTests(RegistryFixture fixture, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    private IRegistryEndpoint Registry => fixture.Registry;

    [Fact]
    public async Task Buildah_Manifest_Push_All_Then_Skopeo_Pulls_Each_Platform()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("ma");
        var buildah = Buildah.In(dir);
        string[] registryArgs = Registry.Credentials is { } creds
            ? ["--tls-verify=false", "--creds", creds.AsCredsArgument]
            : ["--tls-verify=false"];

        var images = new Dictionary<string, TestImage>(StringComparer.Ordinal)
        {
            ["amd64"] = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 128 * 1024, Seed = 1, Architecture = "amd64" }),
            ["arm64"] = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 128 * 1024, Seed = 2, Architecture = "arm64" }),
        };

        const string list = "localhost/wharf-test/multi:1";
        await buildah.RunAsync(["manifest", "create", list], ct);
        foreach (var (arch, image) in images)
        {
            var layout = await image.WriteOciLayoutAsync(dir.Combine($"layout-{arch}"), "1", ct);
            await buildah.RunAsync(["manifest", "add", "--os", "linux", "--arch", arch, list, layout.Reference], ct);
        }

        const string repository = "multi/app";
        var digestFile = dir.Combine("push.digest");
        await buildah.RunAsync(["manifest", "push", "--all", .. registryArgs, "--digestfile", digestFile, list, $"docker://{Registry.HostPort}/{repository}:1"], ct);
        var listDigest = await Skopeo.ReadDigestFileAsync(digestFile, ct);

        var index = await RegistryHttp.GetManifestAsync(Registry, repository, "1", ct);
        output.WriteLine($"index {index.MediaType} {index.Digest}");
        Assert.Equal(listDigest, index.Digest);
        Assert.Equal(listDigest, index.DockerContentDigest);
        var entries = index.Json["manifests"]!.AsArray()
            .ToDictionary(m => (string)m!["platform"]!["architecture"]!, m => (string)m!["digest"]!, StringComparer.Ordinal);
        Assert.Equal(images.Keys.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));

        foreach (var (arch, image) in images)
        {
            var outLayout = dir.Combine($"pulled-{arch}");
            await Skopeo.CopyAsync($"docker://{Registry.HostPort}/{repository}:1", $"oci:{outLayout}:1", Registry, ct,
                "--override-arch", arch, "--override-os", "linux");
            var pulled = await TestImages.ReadOciLayoutAsync(outLayout, "1", ct);
            Assert.Equal(entries[arch], pulled.ManifestDigest);
            Assert.Equal(image.ConfigDigest, pulled.ConfigDigest);
            Assert.Equal(image.Layers.Select(l => l.DiffId), pulled.Layers.Select(l => l.DiffId));

            // The platform manifest is also served on its own, by digest.
            var platformManifest = await RegistryHttp.GetManifestAsync(Registry, repository, entries[arch], ct);
            Assert.Equal(entries[arch], platformManifest.Digest);
            var config = await RegistryHttp.GetConfigAsync(Registry, repository, platformManifest, ct);
            Assert.Equal(arch, (string?)config["architecture"]);
        }
    }
}
