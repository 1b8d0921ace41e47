using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Wharf.Cli.Tests;

/// <summary>
/// A small server on loopback that speaks the Docker token flow (<c>/v2/</c> answers <c>Bearer realm,service,scope</c> challenges;
/// <c>/auth/token</c> takes Basic credentials) and records every token request, so tests can check the scopes the client asks for
/// and its per-scope token cache, which a real server does not let a test observe.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    public const string Service = "fake-hub";
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _users = new();

    private FakeHub(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public string HostPort => new Uri(BaseUrl).Authority;

    /// <summary>The query strings of every <c>GET /auth/token</c>, with the user name of its Basic credentials ("" when anonymous).</summary>
    public ConcurrentQueue<(string Query, string User)> TokenRequests { get; } = new();

    public static async Task<FakeHub> StartAsync(string user, string password)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var hub = new FakeHub(app);
        hub._users[user] = password;
        hub.Map(app);
        await app.StartAsync();
        hub.BaseUrl = app.Urls.First();
        return hub;
    }

    private string? BasicUser(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.Ordinal)) return null;
        var text = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..]));
        var colon = text.IndexOf(':');
        var (user, secret) = (text[..colon], text[(colon + 1)..]);
        return _users.TryGetValue(user, out var password) && password == secret ? user : null;
    }

    private static IResult Problem(int status, string title, string detail) =>
        Results.Text(new JsonObject { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail }.ToJsonString(), "application/problem+json", statusCode: status);

    private static IResult Json(JsonNode node, int status = 200) => Results.Text(node.ToJsonString(), "application/json", statusCode: status);

    private void Map(WebApplication app)
    {
        app.MapGet("/auth/token", (HttpRequest request) =>
        {
            var user = BasicUser(request);
            if (request.Headers.Authorization.Count > 0 && user is null) return Problem(401, "Unauthorized", "bad credentials");
            TokenRequests.Enqueue((request.QueryString.Value ?? "", user ?? ""));
            var scopes = string.Join(' ', request.Query["scope"].ToArray());
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}|{scopes}"));
            return Json(new JsonObject { ["token"] = token, ["access_token"] = token, ["expires_in"] = 300, ["issued_at"] = DateTimeOffset.UtcNow.ToString("O") });
        });

        app.Map("/v2/{**path}", (HttpContext context, string? path) =>
        {
            path ??= "";
            var scope = path.Length == 0 ? null : $"repository:alice/app:pull";
            var bearer = context.Request.Headers.Authorization.ToString();
            var granted = bearer.StartsWith("Bearer ", StringComparison.Ordinal) ? Encoding.UTF8.GetString(Convert.FromBase64String(bearer[7..])) : null;
            var authorized = granted is not null && (scope is null || granted.Split('|')[1].Split(' ').Contains(scope)) && granted.Split('|')[0].Length > 0;
            if (!authorized)
            {
                var realm = $"{BaseUrl}/auth/token";
                context.Response.Headers.WWWAuthenticate = $"Bearer realm=\"{realm}\",service=\"{Service}\"" + (scope is null ? "" : $",scope=\"{scope}\"");
                return Results.Text("""{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}""", "application/json", statusCode: 401);
            }
            if (path.Length == 0) return Json(new JsonObject());
            if (path == "alice/app/tags/list")
            {
                var last = context.Request.Query["last"].ToString();
                if (last.Length == 0)
                {
                    context.Response.Headers.Link = "</v2/alice/app/tags/list?n=1&last=1>; rel=\"next\"";
                    return Json(new JsonObject { ["name"] = "alice/app", ["tags"] = new JsonArray("1") });
                }
                return Json(new JsonObject { ["name"] = "alice/app", ["tags"] = new JsonArray("2") });
            }
            if (path.StartsWith("alice/app/manifests/", StringComparison.Ordinal))
            {
                var manifest = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.wharf.test+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}]}""";
                return Results.Text(manifest, "application/vnd.oci.image.manifest.v1+json");
            }
            return Results.Text("""{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}""", "application/json", statusCode: 404);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
