using System.Diagnostics;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary>Upstreams for the pull-through cache tests: real reference registries on loopback, seeded with skopeo.</summary>
internal static class ProxySetup
{
    /// <summary>Configuration of a proxy namespace <paramref name="ns"/> of <paramref name="upstream"/>.</summary>
    public static string[] Namespace(string ns, string upstream, string tagTtl = "00:05:00", params string[] more) =>
    [
        $"--Wharf:Proxy:Namespaces:{ns}:Upstream={upstream}",
        $"--Wharf:Proxy:Namespaces:{ns}:TagTtl={tagTtl}",
        .. more,
    ];

    /// <summary>Pushes the image into the upstream as <paramref name="repository"/>:<paramref name="tag"/>.</summary>
    public static async Task SeedAsync(ReferenceRegistry upstream, TestImage image, string repository, string tag, TempDirectory dir, CancellationToken ct)
    {
        var layout = await image.WriteOciLayoutAsync(dir.Combine("seed-" + Guid.NewGuid().ToString("N")[..8]), tag, ct);
        await Skopeo.CopyAsync(layout.Reference, $"docker://{upstream.HostPort}/{repository}:{tag}", upstream, ct);
    }

    /// <summary>
    /// Waits until every request the upstream answered so far is in its access log: it sends one more, marked, request
    /// and waits for its line (the log is written in order).
    /// </summary>
    public static async Task FlushAccessLogAsync(ReferenceRegistry upstream, CancellationToken ct)
    {
        var marker = "flush-" + Guid.NewGuid().ToString("N")[..12];
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            using var _ = await http.GetAsync(new Uri($"{upstream.BaseUrl}/v2/{marker}/tags/list"), ct);
        }
        var clock = Stopwatch.StartNew();
        while (!upstream.Log.Contains(marker, StringComparison.Ordinal))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("The upstream's access log did not show the marker request.");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Blob GETs the upstream's access log shows for <paramref name="digest"/>.</summary>
    public static int BlobGets(ReferenceRegistry upstream, string digest) => upstream.CountRequests("GET", "/blobs/" + digest);

    /// <summary>What a client does to pull over HTTP: the manifest of <paramref name="reference"/>, then the config and every layer, each checked against its digest.</summary>
    public static async Task PullOverHttpAsync(HttpClient http, string repository, TestImage image, string reference, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        request.Headers.Accept.ParseAdd(TestImage.OciManifestMediaType);
        using var manifest = await http.SendAsync(request, ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, manifest.StatusCode);
        Assert.Equal(image.ManifestDigest, BlobDigest.Of(await manifest.Content.ReadAsByteArrayAsync(ct)));
        foreach (var blob in BlobsOf(image)) Assert.Equal(blob, BlobDigest.Of(await http.GetByteArrayAsync($"v2/{repository}/blobs/{blob}", ct)));
    }

    /// <summary>The config and layer digests of the image.</summary>
    public static string[] BlobsOf(TestImage image) => [image.ConfigDigest, .. image.Layers.Select(l => l.Digest)];

    public static IRegistryEndpoint Endpoint(WharfTestServer server) => new RegistryEndpoint(server, server.HostPort, server.BaseUrl);
}
