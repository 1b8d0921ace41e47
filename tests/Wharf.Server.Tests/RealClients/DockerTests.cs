using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

/// <summary>
/// The docker CLI and a private dockerd (vfs, no bridge) against the registry. dockerd treats
/// 127.0.0.0/8 registries as insecure by default, so plain HTTP on loopback needs no daemon.json.
/// </summary>
[Trait("Category", "RealClients")]
[Collection(DockerDaemonCollection.Name)]
public sealed partial class DockerTests(DockerDaemonFixture docker, RegistryFixture fixture, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    private IRegistryEndpoint Registry => fixture.Registry;

    [Fact]
    public async Task Load_Push_Remove_Pull_And_Run_Busybox()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("dk");
        var image = TestImages.Busybox();
        var archive = await image.WriteDockerArchiveAsync(dir.Combine("busybox.tar"), "wharf-test/busybox:1", ct);
        await LoginIfNeededAsync(ct);

        var loaded = await docker.DockerCheckedAsync(["load", "--input", archive.Path], ct);
        Assert.Contains("wharf-test/busybox:1", loaded.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(image.ConfigDigest, await ImageIdAsync("wharf-test/busybox:1", ct));

        var remote = $"{Registry.HostPort}/test/busybox:1";
        await docker.DockerCheckedAsync(["tag", "wharf-test/busybox:1", remote], ct);
        var push = await docker.DockerCheckedAsync(["push", remote], ct);
        var pushedDigest = DigestLine().Match(push.StandardOutput) is { Success: true } m
            ? m.Groups[1].Value
            : throw new Xunit.Sdk.XunitException($"No digest in docker push output:{Environment.NewLine}{push.Describe()}");
        var served = await RegistryHttp.GetManifestAsync(Registry, "test/busybox", "1", ct);
        Assert.Equal(pushedDigest, served.Digest);
        Assert.Equal(pushedDigest, served.DockerContentDigest);
        Assert.Equal(image.ConfigDigest, (string?)served.Json["config"]?["digest"]);

        await docker.DockerCheckedAsync(["rmi", "wharf-test/busybox:1", remote], ct);
        var gone = await docker.DockerAsync(["image", "inspect", remote], ct);
        Assert.False(gone.Succeeded, "the image should be gone before pulling it back");

        var pull = await docker.DockerCheckedAsync(["pull", remote], ct);
        Assert.Contains(pushedDigest, pull.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(image.ConfigDigest, await ImageIdAsync(remote, ct));
        var inspect = JsonNode.Parse((await docker.DockerCheckedAsync(["image", "inspect", remote], ct)).StandardOutput)!.AsArray()[0]!;
        Assert.Contains($"{Registry.HostPort}/test/busybox@{pushedDigest}", inspect["RepoDigests"]!.AsArray().Select(d => (string?)d));

        // Containers run under this dockerd (runc, no network).
        var run = await docker.DockerCheckedAsync(["run", "--rm", "--network", "none", remote, "echo", "hi"], ct);
        Assert.Equal("hi", run.StandardOutput.Trim());
        output.WriteLine($"docker run printed: {run.StandardOutput.Trim()}");
    }

    [Fact]
    public async Task Pulls_An_Oci_Manifest_Pushed_By_Skopeo()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("dk");
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 256 * 1024, Seed = 7 });
        var layout = await image.WriteOciLayoutAsync(dir.Combine("layout"), "1", ct);
        var remote = $"{Registry.HostPort}/test/oci-by-skopeo:1";
        await Skopeo.CopyAsync(layout.Reference, $"docker://{remote}", Registry, ct);
        await LoginIfNeededAsync(ct);

        var pull = await docker.DockerCheckedAsync(["pull", remote], ct);
        Assert.Contains(image.ManifestDigest, pull.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(image.ConfigDigest, await ImageIdAsync(remote, ct));
        await docker.DockerCheckedAsync(["rmi", remote], ct);
    }

    private async Task<string> ImageIdAsync(string reference, CancellationToken ct)
        => (await docker.DockerCheckedAsync(["image", "inspect", "--format", "{{.Id}}", reference], ct)).StandardOutput.Trim();

    private async Task LoginIfNeededAsync(CancellationToken ct)
    {
        if (Registry.Credentials is { } creds)
        {
            await docker.DockerCheckedAsync(["login", "--username", creds.UserName, "--password-stdin", Registry.HostPort], ct, standardInput: creds.Password);
        }
    }

    [GeneratedRegex(@"digest: (sha256:[0-9a-f]{64}) size: \d+")]
    private static partial Regex DigestLine();
}
