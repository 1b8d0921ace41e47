using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Wharf.Core.Accounts;
using Microsoft.AspNetCore.Hosting;
using Wharf.Server;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>The session cookie over TLS, and the failed-login limit the sign-in form shares with the API (own servers, plain HTTP clients).</summary>
public sealed partial class SessionCookieTests
{
    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    [Fact]
    public async Task Over_https_the_session_cookie_is_secure_httponly_and_lax()
    {
        await using var work = TempDirectory.Create("tls");
        var pfx = work.Combine("server.pfx");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "test"));
        }
        // Kestrel serving TLS itself (the slim builder loads HTTPS settings only when asked to).
        var app = await WharfServer.StartAsync(
            ["--data-dir", work.CreateSubdirectory("data"), "--Wharf:Auth:Mode=Accounts",
             "--Kestrel:Endpoints:Https:Url=https://127.0.0.1:0", $"--Kestrel:Endpoints:Https:Certificate:Path={pfx}", "--Kestrel:Endpoints:Https:Certificate:Password=test"],
            CancellationToken.None, builder => builder.WebHost.UseKestrelHttpsConfiguration());
        await using var stop = new AppStopper(app);
        var baseUrl = WharfServer.BoundAddresses(app).First().TrimEnd('/');
        Assert.StartsWith("https://", baseUrl);
        using var http = Client(baseUrl);
        await SignUpAsync(http, "tls-user", "tls-password-1");

        var (status, cookies) = await PostLoginAsync(http, "tls-user", "tls-password-1");
        Assert.Equal(HttpStatusCode.Redirect, status);
        var session = Assert.Single(cookies, c => c.StartsWith("wharf_session=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; secure", session);
        Assert.Contains("; httponly", session);
        Assert.Contains("; samesite=lax", session);
    }

    [Fact]
    public async Task Behind_a_known_proxy_that_says_https_the_cookie_is_secure_and_the_same_header_from_elsewhere_is_not_believed()
    {
        // The proxy is 127.0.0.2 (a loopback address of its own); a client at 127.0.0.1 is not the proxy.
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Http:KnownProxies=127.0.0.2");
        using var direct = Client(server.BaseUrl);
        await SignUpAsync(direct, "proxied", "proxied-password-1");

        using var proxy = Client(server.BaseUrl, IPAddress.Parse("127.0.0.2"));
        var (status, cookies) = await PostLoginAsync(proxy, "proxied", "proxied-password-1", ForwardedHttps);
        Assert.Equal(HttpStatusCode.Redirect, status);
        var session = Assert.Single(cookies, c => c.StartsWith("wharf_session=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; secure", session);
        Assert.Contains("; httponly", session);
        Assert.Contains("; samesite=lax", session);
        Assert.Contains("; secure", cookies.First(c => c.StartsWith("wharf_csrf=", StringComparison.Ordinal)).ToLowerInvariant());

        // The same header straight from a client: plain HTTP as far as Wharf is concerned.
        (status, cookies) = await PostLoginAsync(direct, "proxied", "proxied-password-1", ForwardedHttps);
        Assert.Equal(HttpStatusCode.Redirect, status);
        session = Assert.Single(cookies, c => c.StartsWith("wharf_session=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.DoesNotContain("; secure", session);
        Assert.Contains("; httponly", session);

        // And the proxy without the header is plain HTTP too.
        (status, cookies) = await PostLoginAsync(proxy, "proxied", "proxied-password-1");
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.DoesNotContain("; secure", Assert.Single(cookies, c => c.StartsWith("wharf_session=", StringComparison.Ordinal)).ToLowerInvariant());
    }

    private static void ForwardedHttps(HttpRequestMessage request)
    {
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "127.0.0.1");
    }

    [Fact]
    public async Task Failed_sign_ins_in_the_form_count_towards_the_limit_the_api_applies()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Auth:MaxFailedLogins=3");
        using var http = Client(server.BaseUrl);
        await SignUpAsync(http, "limited", "limited-password-1");
        for (var i = 0; i < 3; i++)
        {
            var (wrong, _) = await PostLoginAsync(http, "limited", "not-the-password");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        }
        // The form now refuses even the right password, with the wait in Retry-After...
        var (limited, _) = await PostLoginAsync(http, "limited", "limited-password-1");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited);
        // ...and so does the API, for the same user and address: one limiter.
        using var api = new HttpRequestMessage(HttpMethod.Get, "api/v1/user");
        api.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("limited:limited-password-1")));
        using var answer = await http.SendAsync(api);
        Assert.Equal(HttpStatusCode.TooManyRequests, answer.StatusCode);
        Assert.NotNull(answer.Headers.RetryAfter);
    }

    private sealed class AppStopper(Microsoft.AspNetCore.Builder.WebApplication app) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>A client without a cookie jar that follows no redirects; its connections come from <paramref name="localAddress"/> when given.</summary>
    private static HttpClient Client(string baseUrl, IPAddress? localAddress = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        if (localAddress is not null)
        {
            handler.ConnectCallback = async (context, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(localAddress.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        return new HttpClient(handler) { BaseAddress = new Uri(baseUrl + "/") };
    }

    private static async Task SignUpAsync(HttpClient http, string user, string password)
    {
        using var response = await http.PostAsync("api/v1/users", new StringContent($$"""{"username":"{{user}}","password":"{{password}}"}""", Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>GET /login for the antiforgery cookie and field, then POST the form as a browser would.</summary>
    private static async Task<(HttpStatusCode Status, IReadOnlyList<string> SetCookies)> PostLoginAsync(HttpClient http, string user, string password,
        Action<HttpRequestMessage>? headers = null)
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "login");
        headers?.Invoke(get);
        using var form = await http.SendAsync(get);
        var html = await form.Content.ReadAsStringAsync();
        var token = WebUtility.HtmlDecode(CsrfField().Match(html).Groups[1].Value);
        var antiforgery = form.Headers.GetValues("Set-Cookie").First(c => c.StartsWith("wharf_csrf=", StringComparison.Ordinal)).Split(';')[0];
        using var post = new HttpRequestMessage(HttpMethod.Post, "login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = token, ["username"] = user, ["password"] = password, ["returnUrl"] = "/" }),
        };
        post.Headers.Add("Cookie", antiforgery);
        headers?.Invoke(post);
        using var response = await http.SendAsync(post);
        // The antiforgery cookie this sign-in used comes first.
        return (response.StatusCode, [form.Headers.GetValues("Set-Cookie").First(c => c.StartsWith("wharf_csrf=", StringComparison.Ordinal)),
            .. response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : []]);
    }
}
