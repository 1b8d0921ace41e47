using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wharf.Client.Credentials;

/// <summary>
/// The CLI's own settings, in <c>$XDG_CONFIG_HOME/wharf/config.json</c> (else <c>~/.config/wharf/config.json</c>):
/// the server of the last <c>wharf login</c>. Credentials themselves live in docker's config.
/// </summary>
public sealed class WharfClientConfig(string path)
{
    public string Path { get; } = path;

    public static WharfClientConfig Default()
    {
        var dir = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(dir)) dir = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return new WharfClientConfig(System.IO.Path.Combine(dir, "wharf", "config.json"));
    }

    public async Task<string?> GetServerAsync(CancellationToken cancellationToken) => (string?)(await ReadAsync(cancellationToken))["server"];

    public async Task SetServerAsync(string? server, CancellationToken cancellationToken)
    {
        var config = await ReadAsync(cancellationToken);
        if (server is null) config.Remove("server");
        else config["server"] = server;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var temp = Path + ".tmp";
        // UTF-8 without a byte-order mark: JSON readers (jq, Go's encoding/json) reject one.
        await File.WriteAllTextAsync(temp, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), cancellationToken);
        File.Move(temp, Path, overwrite: true);
    }

    private async Task<JsonObject> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path)) return new JsonObject();
        try
        {
            return JsonNode.Parse(await File.ReadAllTextAsync(Path, cancellationToken)) as JsonObject ?? new JsonObject();
        }
        catch (JsonException)
        {
            return new JsonObject();
        }
    }
}

/// <summary>
/// Where the server is: <c>--server</c>, else <c>WHARF_SERVER</c>, else the last <c>wharf login</c>, else an image reference's host.
/// A bare <c>host:port</c> becomes <c>http://</c> for loopback addresses and <c>https://</c> otherwise.
/// </summary>
public static class ServerAddress
{
    public static Uri Normalize(string server)
    {
        var text = server.Trim().TrimEnd('/');
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            var host = text.Split(':')[0];
            text = (host is "localhost" or "::1" || host.StartsWith("127.", StringComparison.Ordinal) ? "http://" : "https://") + text;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{server}' is not a server address; use host:port or http(s)://host:port.");
        }
        return new Uri(uri.GetLeftPart(UriPartial.Authority));
    }

    /// <summary>"host:port" as docker config keys and image references name a registry.</summary>
    public static string HostKey(Uri server) => server.IsDefaultPort ? server.Host : $"{server.Host}:{server.Port}";

    public static async Task<Uri> ResolveAsync(string? option, string? imageRegistry, WharfClientConfig config, CancellationToken cancellationToken)
    {
        if (imageRegistry is not null) return Normalize(imageRegistry);
        if (!string.IsNullOrWhiteSpace(option)) return Normalize(option);
        if (Environment.GetEnvironmentVariable("WHARF_SERVER") is { Length: > 0 } env) return Normalize(env);
        if (await config.GetServerAsync(cancellationToken) is { Length: > 0 } remembered) return Normalize(remembered);
        throw new WharfClientException(ClientErrorKind.InvalidInput,
            "No Wharf server given: pass --server host:port, set WHARF_SERVER, or run 'wharf login host:port' once.");
    }
}
