using System.Net;
using Wharf.Server.Tests.RealClients;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary>
/// The pull-through cache's counters as Prometheus scrapes them from <c>/metrics</c>: misses on the first pull, hits on
/// the next, upstream errors when the upstream is gone, for a proxy namespace and for the mirror alike, labelled by the
/// proxy (namespace or <c>mirror</c>) and the kind of content, never by repository.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class ProxyMetricsTests
{
    private const string Hits = "wharf_proxy_cache_hits_total";
    private const string Misses = "wharf_proxy_cache_misses_total";
    private const string Errors = "wharf_proxy_upstream_errors_total";

    [Fact]
    public async Task Pulling_twice_through_a_proxy_namespace_and_the_mirror_counts_misses_then_hits_on_metrics()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pm");
        var upstream = await ReferenceRegistry.StartAsync(ct: ct);
        var upstreamStopped = false;
        try
        {
            var proxied = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024, Seed = 41 });
            var mirrored = TestImages.RandomImage(new RandomImageOptions { Layers = 3, LayerSize = 64 * 1024, Seed = 42 });
            await ProxySetup.SeedAsync(upstream, proxied, "library/app", "1", dir, ct);
            await ProxySetup.SeedAsync(upstream, mirrored, "library/tool", "1", dir, ct);
            await using var wharf = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", upstream.BaseUrl, tagTtl: "00:00:00",
                $"--Wharf:Proxy:Mirror:Upstream={upstream.BaseUrl}"));
            using var http = wharf.CreateClient();

            // First pulls: each manifest and layer comes from the upstream. The image config is fetched with its
            // manifest (listings show its details), so the client's GET of it is already served from the cache.
            await PullAsync(http, "hub/library/app", proxied, ct);
            await PullAsync(http, "library/tool", mirrored, ct);
            var first = await PrometheusText.ScrapeAsync(http, ct: ct);
            Assert.Equal(1, first.Sum(Misses, ("upstream", "hub"), ("kind", "manifest")));
            Assert.Equal(proxied.Layers.Count, first.Sum(Misses, ("upstream", "hub"), ("kind", "blob")));
            Assert.Equal(1, first.Sum(Hits, ("upstream", "hub"), ("kind", "blob")));
            Assert.Equal(0, first.Sum(Hits, ("upstream", "hub"), ("kind", "manifest")));
            Assert.Equal(1, first.Sum(Misses, ("upstream", "mirror"), ("kind", "manifest")));
            Assert.Equal(mirrored.Layers.Count, first.Sum(Misses, ("upstream", "mirror"), ("kind", "blob")));
            Assert.Equal(1, first.Sum(Hits, ("upstream", "mirror"), ("kind", "blob")));
            Assert.Equal(0, first.Sum(Errors));

            // Second pulls: everything from the cache (hub's tag re-checked with a HEAD, TagTtl 0; the mirror's is fresh).
            await PullAsync(http, "hub/library/app", proxied, ct);
            await PullAsync(http, "library/tool", mirrored, ct);
            // A pull by digest of what the mirror holds is a hit too.
            await PullAsync(http, "library/tool", mirrored, ct, byDigest: true);
            var second = await PrometheusText.ScrapeAsync(http, ct: ct);
            Assert.Equal(1, second.Sum(Misses, ("upstream", "hub"), ("kind", "manifest")));
            Assert.Equal(proxied.Layers.Count, second.Sum(Misses, ("upstream", "hub"), ("kind", "blob")));
            Assert.Equal(1, second.Sum(Hits, ("upstream", "hub"), ("kind", "manifest")));
            Assert.Equal(1 + 1 + proxied.Layers.Count, second.Sum(Hits, ("upstream", "hub"), ("kind", "blob")));
            Assert.Equal(1, second.Sum(Misses, ("upstream", "mirror"), ("kind", "manifest")));
            Assert.Equal(mirrored.Layers.Count, second.Sum(Misses, ("upstream", "mirror"), ("kind", "blob")));
            Assert.Equal(2, second.Sum(Hits, ("upstream", "mirror"), ("kind", "manifest")));
            Assert.Equal(1 + 2 * (1 + mirrored.Layers.Count), second.Sum(Hits, ("upstream", "mirror"), ("kind", "blob")));
            Assert.Equal(0, second.Sum(Errors));

            // The upstream gone: the re-check of hub's tag fails (an upstream error) and the cached manifest is served.
            await upstream.DisposeAsync();
            upstreamStopped = true;
            await PullAsync(http, "hub/library/app", proxied, ct);
            var offline = await PrometheusText.ScrapeAsync(http, ct: ct);
            Assert.Equal(1, offline.Sum(Errors, ("upstream", "hub"), ("kind", "manifest")));
            Assert.Equal(2, offline.Sum(Hits, ("upstream", "hub"), ("kind", "manifest")));

            // Bounded labels: the proxy's name and the kind of content, never a repository.
            string[] names = [Hits, Misses, Errors];
            Assert.All(names, name => Assert.True(offline.Has(name), $"{name} is not on /metrics:\n{offline.Text}"));
            Assert.Equal(new[] { "hub", "mirror" }, offline.LabelValues("wharf_proxy_", "upstream").Order(StringComparer.Ordinal));
            Assert.Equal(new[] { "blob", "manifest" }, offline.LabelValues("wharf_proxy_", "kind").Order(StringComparer.Ordinal));
            Assert.DoesNotContain("library/", string.Join('\n', offline.Text.Split('\n').Where(l => l.StartsWith("wharf_proxy_", StringComparison.Ordinal))));
            await offline.CheckWithPromtoolAsync(ct);
        }
        finally
        {
            if (!upstreamStopped) await upstream.DisposeAsync();
        }
    }

    private static Task PullAsync(HttpClient http, string repository, TestImage image, CancellationToken ct, bool byDigest = false) =>
        ProxySetup.PullOverHttpAsync(http, repository, image, byDigest ? image.ManifestDigest : "1", ct);
}
