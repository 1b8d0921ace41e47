using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Core.Storage;
using Wharf.Server.Tests.RealClients;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary>
/// A proxy namespace <c>hub</c> in front of a real reference registry on loopback: real clients pull images that only
/// the upstream holds, with their digests intact; the cache keeps them; the upstream's own access log counts what
/// Wharf asked of it.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class ProxyNamespaceTests
{
    [Fact]
    public async Task Skopeo_pulls_what_only_the_upstream_holds_then_from_the_cache_also_when_the_upstream_is_gone()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("px");
        var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var upstreamStopped = false;
        try
        {
            var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 512 * 1024, Seed = 14 });
            await ProxySetup.SeedAsync(upstream, image, "library/busybox", "1", dir, ct);
            // Accounts mode, as `wharf serve` runs: the proxy namespace is public, so an anonymous pull goes through.
            await using var wharf = await WharfTestServer.StartAsync(AuthMode.Accounts, null, ProxySetup.Namespace("hub", upstream.BaseUrl, tagTtl: "00:00:00"));
            var remote = $"docker://{wharf.HostPort}/hub/library/busybox:1";
            string[] blobs = [image.ConfigDigest, .. image.Layers.Select(l => l.Digest)];

            await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("first")}:1", null, ct);
            var first = await TestImages.ReadOciLayoutAsync(dir.Combine("first"), "1", ct);
            Assert.Equal(image.ManifestDigest, first.ManifestDigest);
            Assert.Equal(image.ConfigDigest, first.ConfigDigest);
            Assert.Equal(image.Layers.Select(l => l.Digest), first.Layers.Select(l => l.Digest));
            await SkopeoTests.AssertBlobsMatchTheirNamesAsync(dir.Combine("first"), ct);
            await ProxySetup.FlushAccessLogAsync(upstream, ct);
            Assert.All(blobs, blob => Assert.Equal(1, ProxySetup.BlobGets(upstream, blob)));

            await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("second")}:1", null, ct);
            Assert.Equal(image.ManifestDigest, (await TestImages.ReadOciLayoutAsync(dir.Combine("second"), "1", ct)).ManifestDigest);
            await ProxySetup.FlushAccessLogAsync(upstream, ct);
            Assert.All(blobs, blob => Assert.Equal(1, ProxySetup.BlobGets(upstream, blob)));
            // TagTtl 0: the second pull re-checked the tag with a HEAD, and fetched no manifest again.
            Assert.Equal(1, upstream.CountRequests("GET", "/v2/library/busybox/manifests/1"));
            Assert.True(upstream.CountRequests("HEAD", "/v2/library/busybox/manifests/1") >= 1, upstream.Log);

            await upstream.DisposeAsync();
            upstreamStopped = true;
            await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("offline")}:1", null, ct);
            var offline = await TestImages.ReadOciLayoutAsync(dir.Combine("offline"), "1", ct);
            Assert.Equal(image.ManifestDigest, offline.ManifestDigest);
            await SkopeoTests.AssertBlobsMatchTheirNamesAsync(dir.Combine("offline"), ct);
        }
        finally
        {
            if (!upstreamStopped) await upstream.DisposeAsync();
        }
    }

    [Fact]
    public async Task Pushing_into_a_proxy_namespace_is_refused_and_other_namespaces_take_pushes()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pp");
        await using var upstream = await ReferenceRegistry.StartAsync(ct: ct);
        await using var wharf = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", upstream.BaseUrl));
        using var http = wharf.CreateClient();

        using var start = await http.PostAsync("v2/hub/library/busybox/blobs/uploads/", null, ct);
        Assert.Equal(HttpStatusCode.Forbidden, start.StatusCode);
        var error = JsonNode.Parse(await start.Content.ReadAsStringAsync(ct))!["errors"]![0]!;
        Assert.Equal("DENIED", (string?)error["code"]);
        Assert.Contains("pull-through cache of " + upstream.BaseUrl + "/library/busybox", (string?)error["message"]);

        using var manifest = await http.PutAsync("v2/hub/library/busybox/manifests/1", new ByteArrayContent("{}"u8.ToArray()), ct);
        Assert.Equal(HttpStatusCode.Forbidden, manifest.StatusCode);

        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 16 * 1024, Seed = 5 });
        var layout = await image.WriteOciLayoutAsync(dir.Combine("img"), "1", ct);
        var refused = await ExternalTool.RunAsync("skopeo", ["--insecure-policy", "copy", "--dest-tls-verify=false", layout.Reference, $"docker://{wharf.HostPort}/hub/library/mine:1"], cancellationToken: ct);
        Assert.False(refused.Succeeded, refused.Describe());
        Assert.False(await wharf.Services.GetRequiredService<IRegistryStore>().RepositoryExistsAsync("hub/library/mine", ct));
        await Skopeo.CopyAsync(layout.Reference, $"docker://{wharf.HostPort}/team/mine:1", null, ct);
    }

    [Fact]
    public async Task Ten_concurrent_first_pulls_fetch_each_blob_from_the_upstream_once()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pc");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 3, LayerSize = 2 * 1024 * 1024, Seed = 10 });
        await ProxySetup.SeedAsync(upstream, image, "library/app", "1", dir, ct);
        await using var wharf = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", upstream.BaseUrl));
        string[] blobs = [image.ConfigDigest, .. image.Layers.Select(l => l.Digest)];

        using var start = new SemaphoreSlim(0);
        var pulls = Enumerable.Range(0, 10).Select(async _ =>
        {
            using var http = wharf.CreateClient();
            await start.WaitAsync(ct);
            using var request = new HttpRequestMessage(HttpMethod.Get, "v2/hub/library/app/manifests/1");
            request.Headers.Accept.ParseAdd(TestImage.OciManifestMediaType);
            using var manifest = await http.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
            Assert.Equal(image.ManifestDigest, BlobDigest.Of(await manifest.Content.ReadAsByteArrayAsync(ct)));
            foreach (var blob in blobs)
            {
                var content = await http.GetByteArrayAsync($"v2/hub/library/app/blobs/{blob}", ct);
                Assert.Equal(blob, BlobDigest.Of(content));
            }
        }).ToList();
        start.Release(10);
        await Task.WhenAll(pulls);

        await ProxySetup.FlushAccessLogAsync(upstream, ct);
        Assert.All(blobs, blob => Assert.Equal(1, ProxySetup.BlobGets(upstream, blob)));
        Assert.Equal(1, upstream.CountRequests("GET", "/v2/library/app/manifests/1"));
        var store = wharf.Services.GetRequiredService<IBlobStore>();
        foreach (var blob in blobs) Assert.NotNull(await store.StatAsync(Digest.Parse(blob), ct));
        // On the file system the clients read the store's own file as it was written: nothing was spooled beside it.
        Assert.False(Directory.Exists(Path.Combine(wharf.DataDir, "proxy-spool")), "a first pull on the file system wrote a spool file");
    }

    [Fact]
    public async Task A_corrupt_upstream_blob_is_neither_kept_nor_served_whole()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pb");
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { AccessLog = true }, ct);
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 1024 * 1024, Seed = 21 });
        await ProxySetup.SeedAsync(upstream, image, "library/bad", "1", dir, ct);
        var layer = image.Layers[0].Digest;
        // The reference registry serves its files as they are: flip bytes of the layer on its disk, same length.
        var file = Path.Combine(upstream.DataDirectory, "docker", "registry", "v2", "blobs", "sha256", layer[7..9], layer[7..], "data");
        var bytes = await File.ReadAllBytesAsync(file, ct);
        RandomNumberGenerator.Fill(bytes.AsSpan(bytes.Length / 2, 64));
        await File.WriteAllBytesAsync(file, bytes, ct);
        await using var wharf = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", upstream.BaseUrl));
        using var http = wharf.CreateClient();

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var received = await ReadAllowingAbortAsync(http, $"v2/hub/library/bad/blobs/{layer}", ct);
            // Every byte but the last streams as it arrives; the last waits for the digest check, which fails: the
            // response is broken off, so no client holds a complete (and wrong) body.
            Assert.True(received is null || received.Length < bytes.Length, "a client must never receive the corrupt blob whole");
        }
        var digest = Digest.Parse(layer);
        Assert.Null(await wharf.Services.GetRequiredService<IBlobStore>().StatAsync(digest, ct));
        Assert.Null(await wharf.Services.GetRequiredService<IRegistryStore>().GetLinkedBlobSizeAsync("hub/library/bad", digest, ct));
        // Nothing was kept, so each request asked the upstream again, and the good blobs are served as usual.
        await ProxySetup.FlushAccessLogAsync(upstream, ct);
        Assert.Equal(2, ProxySetup.BlobGets(upstream, layer));
        Assert.Equal(image.ConfigDigest, BlobDigest.Of(await http.GetByteArrayAsync($"v2/hub/library/bad/blobs/{image.ConfigDigest}", ct)));
    }

    [Fact]
    public async Task Cached_repositories_are_marked_with_their_upstream_in_search_and_the_web_pages()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("ps");
        await using var upstream = await ReferenceRegistry.StartAsync(ct: ct);
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 16 * 1024, Seed = 8 });
        await ProxySetup.SeedAsync(upstream, image, "library/searchable", "1", dir, ct);
        await using var wharf = await WharfTestServer.StartAsync(AuthMode.Accounts, null, ProxySetup.Namespace("hub", upstream.BaseUrl));
        using var http = wharf.CreateClient();
        using (var pulled = await http.GetAsync("v2/hub/library/searchable/manifests/1", ct)) Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
        var origin = upstream.BaseUrl + "/library/searchable";

        var search = JsonNode.Parse(await http.GetStringAsync("api/v1/search?q=searchable", ct))!;
        var hit = Assert.Single(search["results"]!.AsArray());
        Assert.Equal("hub/library/searchable", (string?)hit!["full_name"]);
        Assert.Equal(origin, (string?)hit["cached_from"]);
        Assert.Equal("public", (string?)hit["visibility"]);
        var repository = JsonNode.Parse(await http.GetStringAsync("api/v1/repositories/hub/library/searchable", ct))!;
        Assert.Equal(origin, (string?)repository["cached_from"]);
        var docker = JsonNode.Parse(await http.GetStringAsync("v1/search?q=searchable", ct))!;
        Assert.Contains("cached from " + origin, (string?)docker["results"]![0]!["description"]);

        var searchPage = await http.GetStringAsync("search?q=searchable", ct);
        Assert.Contains("cached from " + origin, searchPage, StringComparison.Ordinal);
        var repositoryPage = await http.GetStringAsync("r/hub/library/searchable", ct);
        Assert.Contains("A pull-through cache of <code>" + origin + "</code>", repositoryPage, StringComparison.Ordinal);
    }

    /// <summary>The body of a GET, or null when the server broke the response off.</summary>
    private static async Task<byte[]?> ReadAllowingAbortAsync(HttpClient http, string path, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(path, ct);
            if (!response.IsSuccessStatusCode) return null;
            return await response.Content.ReadAsByteArrayAsync(ct);
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Fact]
    public async Task A_hanging_upstream_ends_in_a_timeout_with_a_clear_error()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        using var hanging = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        hanging.Start();
        var accepted = new List<System.Net.Sockets.TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true) accepted.Add(await hanging.AcceptTcpClientAsync(ct));
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        }, ct);
        var port = ((IPEndPoint)hanging.LocalEndpoint).Port;
        await using var wharf = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", $"http://127.0.0.1:{port}", more: "--Wharf:Proxy:UpstreamTimeout=00:00:02"));
        using var http = wharf.CreateClient();

        using var response = await http.GetAsync("v2/hub/library/busybox/manifests/1", ct);
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["errors"]![0]!;
        Assert.Equal("UNKNOWN", (string?)error["code"]);
        Assert.Contains($"http://127.0.0.1:{port}/library/busybox did not answer within 2 s", (string?)error["message"]);

        using var blob = await http.GetAsync($"v2/hub/library/busybox/blobs/{BlobDigest.Of("x"u8.ToArray())}", ct);
        Assert.Equal(HttpStatusCode.GatewayTimeout, blob.StatusCode);
        hanging.Stop();
        foreach (var client in accepted) client.Dispose();
    }
}
