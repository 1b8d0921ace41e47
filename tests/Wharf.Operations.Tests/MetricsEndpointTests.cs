using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Server;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>Who may scrape <c>/metrics</c>, and <c>/metrics</c> switched off.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_are_served_in_the_prometheus_text_format_by_default()
    {
        await using var server = await WharfTestServer.StartAsync();
        using var http = server.CreateClient();
        (await http.GetAsync("v2/")).Dispose();
        using var response = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var scrape = PrometheusText.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(scrape.Sum("http_server_request_duration_seconds_count", ("http_route", "/v2")) >= 1);
        await scrape.CheckWithPromtoolAsync(CancellationToken.None);
    }

    /// <summary>The instruments garbage collection reports through (<see cref="Wharf.Core.Telemetry.WharfMetrics.GcRunFinished"/>).</summary>
    [Fact]
    public async Task Gc_runs_and_freed_bytes_are_counted_dry_runs_apart_and_freeing_nothing()
    {
        await using var server = await WharfTestServer.StartAsync();
        var metrics = server.Services.GetRequiredService<Wharf.Core.Telemetry.WharfMetrics>();
        metrics.GcRunFinished(dryRun: false, bytesFreed: 1234);
        metrics.GcRunFinished(dryRun: false, bytesFreed: 66);
        metrics.GcRunFinished(dryRun: true, bytesFreed: 5000);

        using var http = server.CreateClient();
        var scrape = await PrometheusText.ScrapeAsync(http);
        Assert.Equal(2, scrape.Sum("wharf_gc_runs_total", ("dry_run", "false")));
        Assert.Equal(1, scrape.Sum("wharf_gc_runs_total", ("dry_run", "true")));
        Assert.Equal(1300, scrape.Sum("wharf_gc_freed_bytes_total"));
        await scrape.CheckWithPromtoolAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_second_server_in_the_same_process_does_not_count_the_first_ones_requests()
    {
        await using var first = await WharfTestServer.StartAsync();
        await using var second = await WharfTestServer.StartAsync();
        using var firstHttp = first.CreateClient();
        using var secondHttp = second.CreateClient();
        for (var i = 0; i < 3; i++) (await firstHttp.GetAsync("v2/")).Dispose();
        var seen = await PrometheusText.ScrapeAsync(secondHttp);
        Assert.Equal(0, seen.Sum("http_server_request_duration_seconds_count", ("http_route", "/v2")));
        Assert.Equal(3, (await PrometheusText.ScrapeAsync(firstHttp)).Sum("http_server_request_duration_seconds_count", ("http_route", "/v2")));
    }

    [Fact]
    public async Task Metrics_limited_to_a_network_refuse_other_addresses_with_403()
    {
        await using var outside = await WharfTestServer.StartAsync(null, "--Wharf:Metrics:AllowedNetworks:0=127.0.0.2/32");
        using var refused = await outside.CreateClient().GetAsync("metrics");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("AllowedNetworks", await refused.Content.ReadAsStringAsync());

        await using var inside = await WharfTestServer.StartAsync(null, "--Wharf:Metrics:AllowedNetworks:0=::1", "--Wharf:Metrics:AllowedNetworks:1=127.0.0.0/8");
        using var allowed = await inside.CreateClient().GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task Metrics_with_a_token_need_that_bearer_token_and_nothing_else()
    {
        await using var folder = TempDirectory.Create("metrics-token");
        var tokenFile = folder.Combine("token");
        await File.WriteAllTextAsync(tokenFile, "scrape-secret-1\n");
        await using var server = await WharfTestServer.StartAsync(null, $"--Wharf:Metrics:TokenFile={tokenFile}");
        using var http = server.CreateClient();
        using (var none = await http.GetAsync("metrics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
        }
        foreach (var wrong in (string[])["scrape-secret-2", "scrape-secret-1x", ""])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + wrong);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using (var right = new HttpRequestMessage(HttpMethod.Get, "metrics"))
        {
            right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "scrape-secret-1");
            using var response = await http.SendAsync(right);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (var post = await http.PostAsync("metrics", new StringContent("")))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        }
    }

    [Fact]
    public async Task Metrics_switched_off_are_not_served()
    {
        await using var server = await WharfTestServer.StartAsync(null, "--Wharf:Metrics:Enabled=false");
        using var response = await server.CreateClient().GetAsync("metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Bad_metrics_settings_stop_start_up_with_every_problem_named()
    {
        await using var folder = TempDirectory.Create("metrics-bad");
        var failure = Assert.Throws<WharfConfigurationException>(() => WharfServer.Build(
            ["--data-dir", folder.Path, "--Wharf:Metrics:AllowedNetworks:0=banana", "--Wharf:Metrics:AllowedNetworks:1=127.0.0.0/99",
             "--Wharf:Metrics:TokenFile=" + folder.Combine("missing"), "--Wharf:Health:Timeout=00:00:00"]));
        Assert.Contains(failure.Problems, p => p.Contains("'banana'", StringComparison.Ordinal));
        Assert.Contains(failure.Problems, p => p.Contains("127.0.0.0/99", StringComparison.Ordinal));
        Assert.Contains(failure.Problems, p => p.Contains("TokenFile", StringComparison.Ordinal));
        Assert.Contains(failure.Problems, p => p.Contains("Wharf:Health:Timeout", StringComparison.Ordinal));
    }
}
