using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>Helpers to drive a Wharf in accounts mode over HTTP: sign-up, Basic/Bearer clients, personal access tokens, registry tokens.</summary>
internal sealed class AccountsHttp(WharfTestServer server)
{
    public const string Password = "correct-horse-battery";

    public WharfTestServer Server => server;

    public HttpClient Anonymous() => server.CreateClient();

    public HttpClient Basic(string user, string password = Password)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = BasicHeader(user, password);
        return client;
    }

    public HttpClient Bearer(string token)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// A client whose connections come from <paramref name="localAddress"/> (any of 127.0.0.0/8), so that one test can
    /// play callers at several client addresses against the server on 127.0.0.1.
    /// </summary>
    public HttpClient From(string localAddress, AuthenticationHeaderValue? authorization = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri(server.BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = authorization;
        return client;
    }

    /// <summary>
    /// Signs in through the web UI's form (<c>GET /login</c> for the antiforgery token, <c>POST /login</c>) and returns
    /// the <c>Cookie</c> header value that carries the session.
    /// </summary>
    public async Task<string> SignInWithFormAsync(string user, string password = Password)
    {
        using var handler = new HttpClientHandler { UseCookies = true, CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(server.BaseUrl + "/") };
        var page = await http.GetStringAsync("login");
        var token = System.Text.RegularExpressions.Regex.Match(page, "name=\"__csrf\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "no antiforgery token on /login");
        using var response = await http.PostAsync("login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = user, ["password"] = password, ["__csrf"] = token, ["returnUrl"] = "/",
        }));
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"sign-in of {user}: {(int)response.StatusCode}");
        return handler.CookieContainer.GetCookieHeader(new Uri(server.BaseUrl));
    }

    /// <summary>A client that sends the given <c>Cookie</c> header (a web UI session) and nothing else.</summary>
    public HttpClient WithCookie(string cookieHeader)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = new Uri(server.BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Add("Cookie", cookieHeader);
        return client;
    }

    public static AuthenticationHeaderValue BasicHeader(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    public async Task SignUpAsync(string user, string password = Password)
    {
        using var http = Anonymous();
        using var response = await http.PostAsJsonAsync("api/v1/users", new { username = user, password });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"sign-up of {user}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Creates a personal access token for <paramref name="user"/> (logged in with the password) and returns its secret.</summary>
    public async Task<string> CreateAccessTokenAsync(string user, params string[] scopes)
    {
        using var http = Basic(user);
        using var response = await http.PostAsJsonAsync("api/v1/tokens", new { name = "test " + Guid.NewGuid().ToString("N")[..6], scopes });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"token create: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>A registry token from <c>GET /auth/token</c> (anonymous when <paramref name="user"/> is null).</summary>
    public async Task<JsonElement> GetTokenResponseAsync(string? user, string? password, params string[] scopes)
    {
        using var http = user is null ? Anonymous() : Basic(user, password ?? Password);
        var query = string.Join("&", ["service=wharf", .. scopes.Select(s => "scope=" + Uri.EscapeDataString(s))]);
        using var response = await http.GetAsync("auth/token?" + query);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"token: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>A refresh token from <c>GET /auth/token?offline_token=true</c> with Basic <paramref name="user"/>:<paramref name="secret"/>, as docker login gets it.</summary>
    public async Task<string> GetRefreshTokenAsync(string user, string secret, string clientId = "docker")
    {
        using var http = Basic(user, secret);
        using var response = await http.GetAsync($"auth/token?service=wharf&client_id={clientId}&offline_token=true");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"offline token: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("refresh_token").GetString()!;
    }

    /// <summary><c>POST /auth/token</c> with <c>grant_type=refresh_token</c>, as the Docker daemon redeems an identity token.</summary>
    public async Task<HttpResponseMessage> RedeemAsync(string refreshToken, params string[] scopes)
    {
        using var http = Anonymous();
        return await http.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken, ["client_id"] = "docker", ["service"] = "wharf", ["scope"] = string.Join(' ', scopes),
        }));
    }

    /// <summary>The <c>access</c> claim of a token response, as repository → "actions".</summary>
    public static Dictionary<string, string> Access(JsonElement tokenResponse) =>
        Payload((tokenResponse.TryGetProperty("token", out var t) ? t : tokenResponse.GetProperty("access_token")).GetString()!)
            .GetProperty("access").EnumerateArray()
            .ToDictionary(a => a.GetProperty("name").GetString()!, a => string.Join(',', a.GetProperty("actions").EnumerateArray().Select(x => x.GetString())));

    /// <summary>The audit log, newest first (as the administrator <paramref name="admin"/>).</summary>
    public async Task<List<JsonElement>> AuditAsync(string admin)
    {
        using var http = Basic(admin);
        var page = JsonDocument.Parse(await http.GetStringAsync("api/v1/audit?limit=500")).RootElement;
        return [.. page.GetProperty("events").EnumerateArray().Select(e => e.Clone())];
    }

    public async Task<string> GetTokenAsync(string? user, params string[] scopes) =>
        (await GetTokenResponseAsync(user, Password, scopes)).GetProperty("token").GetString()!;

    /// <summary>The <c>access</c> claim of a JWT, as JSON text (the payload is not verified here).</summary>
    public static JsonElement Payload(string jwt)
    {
        var part = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        part = part.PadRight(part.Length + (4 - part.Length % 4) % 4, '=');
        return JsonDocument.Parse(Convert.FromBase64String(part)).RootElement.Clone();
    }
}
