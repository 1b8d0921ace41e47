using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.RealClients;
using Wharf.Testing;

namespace Wharf.Server.Tests.Proxy;

/// <summary>The pull-through cache against upstreams that ask for tokens, move tags, and limit requests.</summary>
[Trait("Category", "RealClients")]
public sealed class ProxyUpstreamTests
{
    [Fact]
    public async Task An_upstream_behind_the_token_flow_is_pulled_with_the_configured_credentials_and_refuses_without()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pt");
        var credentials = new RegistryCredentials("hubuser", "s3cret-pass");
        await using var tokens = await UpstreamTokenServer.StartAsync(credentials, ct);
        await using var upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { Credentials = credentials, TokenAuth = tokens.RegistryAuth }, ct);
        using (var http = new HttpClient())
        using (var challenge = await http.GetAsync(new Uri($"{upstream.BaseUrl}/v2/"), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
            Assert.Contains(challenge.Headers.WwwAuthenticate, h => h.Scheme == "Bearer" && h.Parameter!.Contains(tokens.Realm, StringComparison.Ordinal));
        }
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 128 * 1024, Seed = 33 });
        await ProxySetup.SeedAsync(upstream, image, "library/busybox", "1", dir, ct);

        await using (var anonymous = await WharfTestServer.StartAsync(null, ProxySetup.Namespace("hub", upstream.BaseUrl)))
        {
            using var http = anonymous.CreateClient();
            using var refused = await http.GetAsync("v2/hub/library/busybox/manifests/1", ct);
            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
            Assert.Contains("wants credentials for its token service", await refused.Content.ReadAsStringAsync(ct));
        }

        var issuedBefore = tokens.Issued;
        await using var wharf = await WharfTestServer.StartAsync(AuthMode.Accounts, null, ProxySetup.Namespace("hub", upstream.BaseUrl, more:
            ["--Wharf:Proxy:Namespaces:hub:Username=hubuser", "--Wharf:Proxy:Namespaces:hub:Password=s3cret-pass"]));
        await Skopeo.CopyAsync($"docker://{wharf.HostPort}/hub/library/busybox:1", $"oci:{dir.Combine("pulled")}:1", null, ct);
        var pulled = await TestImages.ReadOciLayoutAsync(dir.Combine("pulled"), "1", ct);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
        await SkopeoTests.AssertBlobsMatchTheirNamesAsync(dir.Combine("pulled"), ct);
        Assert.True(tokens.Issued > issuedBefore, "Wharf must have fetched a token from the upstream's realm");
    }

    [Fact]
    public async Task A_moved_tag_is_seen_after_TagTtl_and_a_limiting_upstream_leaves_the_cached_one_served_with_a_warning()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("pf");
        var dataDir = dir.CreateSubdirectory("wharf");
        var first = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 32 * 1024, Seed = 1 });
        var second = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 32 * 1024, Seed = 2 });
        await using (var upstream = await ReferenceRegistry.StartAsync(ct: ct))
        {
            await ProxySetup.SeedAsync(upstream, first, "library/app", "1", dir, ct);
            string[] config = [.. ProxySetup.Namespace("hub", upstream.BaseUrl, tagTtl: "00:00:00"), .. ProxySetup.Namespace("slow", upstream.BaseUrl, tagTtl: "01:00:00")];
            await using var wharf = await WharfTestServer.StartAsync(dataDir, config);
            using var http = wharf.CreateClient();
            Assert.Equal(first.ManifestDigest, await ManifestDigestAsync(http, "hub/library/app", "1", ct));
            Assert.Equal(first.ManifestDigest, await ManifestDigestAsync(http, "slow/library/app", "1", ct));

            await ProxySetup.SeedAsync(upstream, second, "library/app", "1", dir, ct);
            Assert.Equal(second.ManifestDigest, await ManifestDigestAsync(http, "hub/library/app", "1", ct));
            Assert.Equal(first.ManifestDigest, await ManifestDigestAsync(http, "slow/library/app", "1", ct));
            // The old manifest stays readable by digest: a client that resolved the tag a moment ago still pulls it.
            Assert.Equal(first.ManifestDigest, await ManifestDigestAsync(http, "hub/library/app", first.ManifestDigest, ct));
        }

        await using var limiter = new LimitingUpstream();
        var logs = new CapturedLogs();
        await using (var wharf = await WharfTestServer.StartAsync(AuthMode.Open, dataDir, ProxySetup.Namespace("hub", limiter.Url, tagTtl: "00:00:00"),
            builder => builder.Logging.AddProvider(logs)))
        {
            using var http = wharf.CreateClient();
            Assert.Equal(second.ManifestDigest, await ManifestDigestAsync(http, "hub/library/app", "1", ct));
            Assert.True(limiter.Requests.Count > 0, "the tag must have been re-checked upstream");
            Assert.Contains(logs.Messages, m => m.Level == LogLevel.Warning && m.Text.Contains("Serving the cached hub/library/app:1", StringComparison.Ordinal)
                && m.Text.Contains("429", StringComparison.Ordinal));

            using var uncached = await http.GetAsync("v2/hub/library/other/manifests/1", ct);
            Assert.Equal(HttpStatusCode.TooManyRequests, uncached.StatusCode);
            Assert.Equal("TOOMANYREQUESTS", (string?)JsonNode.Parse(await uncached.Content.ReadAsStringAsync(ct))!["errors"]![0]!["code"]);
        }
    }

    private static async Task<string> ManifestDigestAsync(HttpClient http, string repository, string reference, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        request.Headers.Accept.ParseAdd(TestImage.OciManifestMediaType);
        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        Assert.True(response.IsSuccessStatusCode, $"{repository}:{reference} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
        return BlobDigest.Of(body);
    }

    /// <summary>An upstream that answers every request with 429 and a Retry-After, as a rate-limited Docker Hub does.</summary>
    private sealed class LimitingUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;

        public LimitingUpstream()
        {
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _serving = ServeAsync();
        }

        public string Url { get; }

        public ConcurrentQueue<string> Requests { get; } = new();

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    await using var stream = client.GetStream();
                    var request = new StringBuilder();
                    var buffer = new byte[4096];
                    while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await stream.ReadAsync(buffer, _stop.Token);
                        if (read == 0) break;
                        request.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }
                    Requests.Enqueue(request.ToString().Split("\r\n")[0]);
                    await stream.WriteAsync("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _serving;
            _stop.Dispose();
        }
    }

    /// <summary>Every log message of the server, for tests that check a warning was written.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Messages.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
