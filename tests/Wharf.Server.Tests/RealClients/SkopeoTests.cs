using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

[Trait("Category", "RealClients")]
public sealed class SkopeoTests(RegistryFixture fixture, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    private IRegistryEndpoint Registry => fixture.Registry;

    [Fact]
    public async Task OciLayout_RoundTrips_Through_Registry_With_Identical_Digests()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("sk");
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 3, LayerSize = 512 * 1024, Seed = 42 });
        var source = await image.WriteOciLayoutAsync(dir.Combine("src"), "v1", ct);
        var remote = $"docker://{Registry.HostPort}/skopeo/oci-roundtrip:v1";

        var pushDigestFile = dir.Combine("push.digest");
        await Skopeo.CopyAsync(source.Reference, remote, Registry, ct, "--digestfile", pushDigestFile);
        Assert.Equal(image.ManifestDigest, await Skopeo.ReadDigestFileAsync(pushDigestFile, ct));

        var served = await RegistryHttp.GetManifestAsync(Registry, "skopeo/oci-roundtrip", "v1", ct);
        Assert.Equal(image.ManifestDigest, served.Digest);
        Assert.Equal(image.ManifestDigest, served.DockerContentDigest);
        Assert.Equal(TestImage.OciManifestMediaType, served.MediaType);

        await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("back")}:v1", Registry, ct);
        var back = await TestImages.ReadOciLayoutAsync(dir.Combine("back"), "v1", ct);
        Assert.Equal(source.ManifestDigest, back.ManifestDigest);
        Assert.Equal(source.ConfigDigest, back.ConfigDigest);
        Assert.Equal(source.Layers.Select(l => l.Digest), back.Layers.Select(l => l.Digest));
        await AssertBlobsMatchTheirNamesAsync(dir.Combine("back"), ct);

        // Pull by digest too.
        await Skopeo.CopyAsync($"docker://{Registry.HostPort}/skopeo/oci-roundtrip@{image.ManifestDigest}", $"oci:{dir.Combine("bydigest")}:x", Registry, ct);
        Assert.Equal(image.ManifestDigest, (await TestImages.ReadOciLayoutAsync(dir.Combine("bydigest"), "x", ct)).ManifestDigest);
    }

    [Fact]
    public async Task DockerArchive_RoundTrips_Through_Registry_To_DockerArchive_And_OciLayout()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("sk");
        var image = TestImages.Busybox();
        var archive = await image.WriteDockerArchiveAsync(dir.Combine("busybox.tar"), "test/busybox:1", ct);
        var repository = "skopeo/archive-roundtrip";
        var remote = $"docker://{Registry.HostPort}/{repository}:1";

        var pushDigestFile = dir.Combine("push.digest");
        await Skopeo.CopyAsync(archive.Reference, remote, Registry, ct, "--digestfile", pushDigestFile);
        var pushed = await Skopeo.ReadDigestFileAsync(pushDigestFile, ct);
        var served = await RegistryHttp.GetManifestAsync(Registry, repository, "1", ct);
        Assert.Equal(pushed, served.Digest);
        Assert.Equal(pushed, served.DockerContentDigest);
        output.WriteLine($"docker-archive pushed as {served.MediaType} {pushed}");
        Assert.Equal(archive.ConfigDigest, (string?)served.Json["config"]?["digest"]);

        var backArchivePath = dir.Combine("back.tar");
        await Skopeo.CopyAsync(remote, $"docker-archive:{backArchivePath}:{Registry.HostPort}/{repository}:1", Registry, ct);
        var backArchive = await TestImages.ReadDockerArchiveAsync(backArchivePath, ct);
        Assert.Equal(archive.ConfigDigest, backArchive.ConfigDigest);
        Assert.Equal(archive.DiffIds, backArchive.DiffIds);

        await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("oci")}:1", Registry, ct);
        var oci = await TestImages.ReadOciLayoutAsync(dir.Combine("oci"), "1", ct);
        Assert.Equal(archive.ConfigDigest, oci.ConfigDigest);
        Assert.Equal(archive.DiffIds, oci.Layers.Select(l => l.DiffId));
        var servedLayers = served.Json["layers"]!.AsArray().Select(l => (string)l!["digest"]!);
        Assert.Equal(servedLayers, oci.Layers.Select(l => l.Digest));
        await AssertBlobsMatchTheirNamesAsync(dir.Combine("oci"), ct);
    }

    internal static async Task AssertBlobsMatchTheirNamesAsync(string layoutPath, CancellationToken ct)
    {
        foreach (var blob in Directory.EnumerateFiles(Path.Combine(layoutPath, "blobs", "sha256")))
        {
            Assert.Equal("sha256:" + Path.GetFileName(blob), await BlobDigest.OfFileAsync(blob, ct));
        }
    }
}
