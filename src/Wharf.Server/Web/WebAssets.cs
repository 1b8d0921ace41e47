using System.Reflection;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Wharf.Server.Web;

/// <summary>
/// The UI's stylesheet, script and icon, embedded in the assembly and served by Wharf itself (no CDN, no Node
/// toolchain). URLs carry a content hash (<c>/-/assets/&lt;hash&gt;/wharf.css</c>), so they are cached as immutable
/// and change whenever the file does.
/// </summary>
public sealed class WebAssets
{
    public const string Prefix = "/-/assets";

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    private sealed record Asset(string Name, byte[] Content, string ContentType, string Hash);

    public WebAssets()
    {
        var assembly = typeof(WebAssets).Assembly;
        foreach (var (name, type) in new[] { ("wharf.css", "text/css; charset=utf-8"), ("wharf.js", "text/javascript; charset=utf-8"), ("icon.svg", "image/svg+xml") })
        {
            using var stream = assembly.GetManifestResourceStream($"Wharf.Server.Web.Assets.{name}")
                ?? throw new InvalidOperationException($"The web asset {name} is not embedded.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var hash = Convert.ToHexStringLower(SHA256.HashData(content))[..12];
            _assets[name] = new Asset(name, content, type, hash);
        }
    }

    /// <summary>The URL of an asset, with its content hash.</summary>
    public string Url(string name) => $"{Prefix}/{_assets[name].Hash}/{name}";

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/{hash}/{name}", (HttpContext context, string hash, string name) =>
        {
            if (!_assets.TryGetValue(name, out var asset)) return Results.NotFound();
            var etag = $"\"{asset.Hash}\"";
            var headers = context.Response.Headers;
            headers.ETag = etag;
            headers.XContentTypeOptions = "nosniff";
            // An old hash still gets the current file, but is not cached for long.
            headers.CacheControl = hash == asset.Hash ? "public, max-age=31536000, immutable" : "public, max-age=300";
            if (context.Request.Headers.IfNoneMatch.ToString() == etag) return Results.StatusCode(StatusCodes.Status304NotModified);
            return Results.Bytes(asset.Content, asset.ContentType);
        }).ExcludeFromDescription();
        app.MapGet("/favicon.ico", (HttpContext context) => Results.Redirect(Url("icon.svg"), permanent: false)).ExcludeFromDescription();
    }
}
