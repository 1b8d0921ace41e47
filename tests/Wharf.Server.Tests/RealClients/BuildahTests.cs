using System.Text.Json.Nodes;
using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

[Trait("Category", "RealClients")]
public sealed class BuildahTests(RegistryFixture fixture, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    private IRegistryEndpoint Registry => fixture.Registry;

    private string[] RegistryArgs => Registry.Credentials is { } creds
        ? ["--tls-verify=false", "--creds", creds.AsCredsArgument]
        : ["--tls-verify=false"];

    [Fact]
    public async Task Pull_Push_Rmi_Pull_Keeps_Image_Id_And_Manifest_Digest()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("bh");
        var buildah = Buildah.In(dir);
        var image = TestImages.Busybox();
        var layout = await image.WriteOciLayoutAsync(dir.Combine("layout"), "1", ct);

        var pulled = await buildah.RunAsync(["pull", "--quiet", layout.Reference], ct);
        var imageId = LastLine(pulled.StandardOutput);
        Assert.Equal(BlobDigest.Hex(image.ConfigDigest), imageId);

        var remote = $"{Registry.HostPort}/buildah/busybox:1";
        var digestFile = dir.Combine("push.digest");
        await buildah.RunAsync(["push", .. RegistryArgs, "--digestfile", digestFile, imageId, $"docker://{remote}"], ct);
        var pushedDigest = await Skopeo.ReadDigestFileAsync(digestFile, ct);
        var served = await RegistryHttp.GetManifestAsync(Registry, "buildah/busybox", "1", ct);
        Assert.Equal(pushedDigest, served.Digest);
        Assert.Equal(image.ConfigDigest, (string?)served.Json["config"]?["digest"]);

        await buildah.RunAsync(["rmi", "--all", "--force"], ct);
        var images = await buildah.RunAsync(["images", "--quiet", "--no-trunc"], ct);
        Assert.Equal("", images.StandardOutput.Trim());

        var pulledBack = await buildah.RunAsync(["pull", "--quiet", .. RegistryArgs, $"docker://{remote}"], ct);
        Assert.Equal(imageId, LastLine(pulledBack.StandardOutput));
        var inspect = JsonNode.Parse((await buildah.RunAsync(["inspect", "--type", "image", remote], ct)).StandardOutput)!;
        Assert.Equal(pushedDigest, (string?)inspect["FromImageDigest"]);
    }

    [Fact]
    public async Task Bud_From_Busybox_In_Registry_Runs_A_Step_And_Pushes()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("bh");
        var buildah = Buildah.In(dir);
        var baseImage = TestImages.Busybox();
        var baseLayout = await baseImage.WriteOciLayoutAsync(dir.Combine("base"), "1", ct);
        var baseRef = $"{Registry.HostPort}/base/busybox:1";
        await Skopeo.CopyAsync(baseLayout.Reference, $"docker://{baseRef}", Registry, ct);

        var context = dir.CreateSubdirectory("context");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), $"FROM {baseRef}\nRUN echo hi > /x\n", ct);
        var target = $"{Registry.HostPort}/buildah/built:1";
        var (_, isolation) = await buildah.BudAsync([.. RegistryArgs, "--network", "none", "--pull-always", "-t", target, context], ct);
        output.WriteLine($"buildah bud isolation that works here: {string.Join(' ', isolation)}");

        var digestFile = dir.Combine("push.digest");
        await buildah.RunAsync(["push", .. RegistryArgs, "--digestfile", digestFile, target, $"docker://{target}"], ct);
        var pushedDigest = await Skopeo.ReadDigestFileAsync(digestFile, ct);
        var served = await RegistryHttp.GetManifestAsync(Registry, "buildah/built", "1", ct);
        Assert.Equal(pushedDigest, served.Digest);
        var layers = served.Json["layers"]!.AsArray().Select(l => (string)l!["digest"]!).ToList();
        Assert.Equal(2, layers.Count);
        // buildah recompresses layers on push, so compare the uncompressed content (diff ids).
        var config = await RegistryHttp.GetConfigAsync(Registry, "buildah/built", served, ct);
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(d => (string)d!).ToList();
        Assert.Equal(2, diffIds.Count);
        Assert.Equal(baseImage.Layers[0].DiffId, diffIds[0]);

        // Fresh storage, pull what was pushed and look at the file the RUN step wrote.
        await buildah.RunAsync(["rmi", "--all", "--force"], ct);
        var container = LastLine((await buildah.RunAsync(["from", "--quiet", .. RegistryArgs, $"docker://{target}"], ct)).StandardOutput);
        var mountPoint = LastLine((await buildah.RunAsync(["mount", container], ct)).StandardOutput);
        try
        {
            Assert.Equal("hi\n", await File.ReadAllTextAsync(Path.Combine(mountPoint, "x"), ct));
            Assert.True(File.Exists(Path.Combine(mountPoint, "bin", "busybox")));
        }
        finally
        {
            await buildah.RunAsync(["umount", container], ct);
            await buildah.RunAsync(["rm", container], ct);
        }
    }

    private static string LastLine(string text)
        => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
