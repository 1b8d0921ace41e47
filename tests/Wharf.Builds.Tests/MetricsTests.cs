using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary><c>/metrics</c> after real traffic: skopeo pushes, HTTP pulls and a buildah build, read back from the exposition text.</summary>
[Trait("Category", "Builds")]
public sealed class MetricsTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task A_push_a_pull_and_a_build_move_the_counters_by_exactly_what_they_did()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var http = server.Http;

        // A push: a fresh image of one manifest, its config and two layers, with skopeo.
        var before = await PrometheusText.ScrapeAsync(http, ct: Ct);
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024 });
        await using var folder = TempDirectory.Create("metrics");
        var layout = await image.WriteOciLayoutAsync(folder.Combine("layout"), "v1", Ct);
        await Skopeo.CopyAsync(layout.Reference, $"docker://{server.Server.HostPort}/metrics/app:v1", null, Ct);
        var pushed = await PrometheusText.ScrapeAsync(http, ct: Ct);
        var blobBytes = image.Config.LongLength + image.Layers.Sum(l => l.Size);
        Assert.Equal(1, Delta(before, pushed, "wharf_pushes_total", ("kind", "manifest")));
        Assert.Equal(3, Delta(before, pushed, "wharf_pushes_total", ("kind", "blob")));
        Assert.Equal(blobBytes, Delta(before, pushed, "wharf_blob_uploaded_bytes_total"));
        Assert.Equal(0, pushed.Sum("wharf_uploads_active"));

        // A pull: the manifest and one layer by GET (a HEAD is no pull).
        var manifest = await RegistryHttp.GetManifestAsync(server.Registry, "metrics/app", "v1", Ct);
        using (var head = new HttpRequestMessage(HttpMethod.Head, $"v2/metrics/app/manifests/v1"))
        {
            (await http.SendAsync(head, Ct)).EnsureSuccessStatusCode();
        }
        var layer = await RegistryHttp.GetBlobAsync(server.Registry, "metrics/app", image.Layers[0].Digest, Ct);
        var pulled = await PrometheusText.ScrapeAsync(http, ct: Ct);
        Assert.Equal(1, Delta(pushed, pulled, "wharf_pulls_total", ("kind", "manifest")));
        Assert.Equal(1, Delta(pushed, pulled, "wharf_pulls_total", ("kind", "blob")));
        Assert.Equal(layer.LongLength, Delta(pushed, pulled, "wharf_blob_served_bytes_total"));
        Assert.NotEmpty(manifest.Content);

        // A build: it waits in the queue, runs, pushes its image (one more manifest) and ends succeeded.
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo built > /built.txt\n", "metrics/built:1", Ct);
        await server.AssertSucceededAsync(id, Ct);
        // The worker counts the build right after storing its end, which the API may show a moment before.
        var built = await ScrapeUntilAsync(http, s => Delta(pulled, s, "wharf_builds_finished_total") >= 1);
        Assert.Equal(1, Delta(pulled, built, "wharf_builds_finished_total", ("state", "succeeded")));
        Assert.Equal(0, Delta(pulled, built, "wharf_builds_finished_total", ("state", "failed")));
        Assert.Equal(1, Delta(pulled, built, "wharf_build_queue_wait_seconds_count"));
        Assert.Equal(1, Delta(pulled, built, "wharf_pushes_total", ("kind", "manifest")));
        Assert.Equal(0, built.Sum("wharf_build_queue_length"));
        Assert.Equal(0, built.Sum("wharf_builds_running"));

        // The framework's meters are there too, and the whole text passes Prometheus' own parser.
        Assert.True(built.Sum("http_server_request_duration_seconds_count", ("http_request_method", "PUT")) >= 2);
        Assert.True(built.Has("kestrel_active_connections"));
        Assert.True(built.Has("dotnet_gc_collections_total"));
        Assert.True(built.Has("dotnet_process_memory_working_set_bytes"));
        await built.CheckWithPromtoolAsync(Ct);

        // No repository name became a label: the number of series does not grow with the registry's content.
        Assert.DoesNotContain("metrics/app", built.Text);
        Assert.DoesNotContain("metrics/built", built.Text);
    }

    private async Task<PrometheusText> ScrapeUntilAsync(HttpClient http, Func<PrometheusText, bool> done)
    {
        while (true)
        {
            var scrape = await PrometheusText.ScrapeAsync(http, ct: Ct);
            if (done(scrape)) return scrape;
            await Task.Delay(50, Ct);
        }
    }

    private static double Delta(PrometheusText from, PrometheusText to, string name, params (string, string)[] labels) =>
        to.Sum(name, labels) - from.Sum(name, labels);
}
