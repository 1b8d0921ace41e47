using Wharf.Core.Accounts;
using Wharf.Server.Tests.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.RealClients;

/// <summary>
/// skopeo copies an image between two repositories of a Wharf in accounts mode (the token flow): the layers are
/// mounted from the first repository (<c>POST …/uploads/?mount=…&amp;from=…</c>), not uploaded again.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class CrossRepositoryMountTests
{
    [Fact]
    public async Task Skopeo_copy_between_two_repositories_mounts_the_layers_instead_of_uploading_them()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var server = await WharfTestServer.StartRecordingAsync(AuthMode.Accounts);
        var http = new AccountsHttp(server);
        await http.SignUpAsync("boss");
        await http.SignUpAsync("alice");
        await using var dir = TempDirectory.Create("skm");
        var registry = new RegistryEndpoint(server, server.HostPort, server.BaseUrl, new RegistryCredentials("alice", AccountsHttp.Password));
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 128 * 1024, Seed = 12 });
        var layout = await image.WriteOciLayoutAsync(dir.Combine("src"), "v1", ct);
        await Skopeo.CopyAsync(layout.Reference, $"docker://{server.HostPort}/alice/first:v1", registry, ct);
        Assert.Equal(3, server.Requests!.Count("PATCH", "/v2/alice/first/blobs/uploads/")); // two layers and the config

        server.Requests.Clear();
        var digestFile = dir.Combine("copy.digest");
        await Skopeo.CopyAsync($"docker://{server.HostPort}/alice/first:v1", $"docker://{server.HostPort}/alice/second:v1", registry, ct, "--digestfile", digestFile);

        Assert.Equal(image.ManifestDigest, await Skopeo.ReadDigestFileAsync(digestFile, ct));
        // skopeo mounts what it knows is in alice/first (the layers) and uploads the config, which it does not try to mount.
        Assert.Equal(1, server.Requests.Count("PATCH", "/v2/alice/second/blobs/uploads/"));
        var served = await RegistryHttp.GetManifestAsync(registry, "alice/second", "v1", ct);
        Assert.Equal(image.ManifestDigest, served.Digest);
    }
}
