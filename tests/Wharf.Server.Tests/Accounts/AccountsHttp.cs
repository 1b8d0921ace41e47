using System.Net;
using System.Net.Http.Headers;
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
