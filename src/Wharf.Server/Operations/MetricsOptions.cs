using System.Net;

namespace Wharf.Server.Operations;

/// <summary>Section <c>Wharf:Metrics</c>: the Prometheus endpoint <c>/metrics</c> and who may scrape it.</summary>
public sealed class MetricsOptions
{
    public const string Section = "Wharf:Metrics";

    /// <summary>Serve <c>/metrics</c> and record the framework's and Wharf's meters. Default true; false also stops the recording.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Client address ranges (CIDR such as <c>127.0.0.0/8</c>, or a single address) that may scrape.
    /// Default empty: any address.
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>A bearer token scrapers must send (<c>Authorization: Bearer …</c>). Default none: no token asked.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding the token (its first line), instead of <see cref="Token"/> in configuration. Default none.</summary>
    public string? TokenFile { get; set; }

    /// <summary>The networks parsed; call after <see cref="Validate"/> found no problem.</summary>
    public IReadOnlyList<IPNetwork> Networks() => AllowedNetworks.Select(ParseNetwork).OfType<IPNetwork>().ToList();

    /// <summary>The token from <see cref="Token"/> or <see cref="TokenFile"/>, or null.</summary>
    public string? ResolveToken()
    {
        if (!string.IsNullOrEmpty(Token)) return Token;
        if (string.IsNullOrEmpty(TokenFile)) return null;
        var first = File.ReadLines(TokenFile).FirstOrDefault()?.Trim();
        return string.IsNullOrEmpty(first) ? null : first;
    }

    public IEnumerable<string> Validate()
    {
        foreach (var entry in AllowedNetworks)
        {
            if (ParseNetwork(entry) is null)
            {
                yield return $"Wharf:Metrics:AllowedNetworks: '{entry}' is not an address or a CIDR range such as 127.0.0.0/8 or ::1/128.";
            }
        }
        if (!string.IsNullOrEmpty(Token) && !string.IsNullOrEmpty(TokenFile))
        {
            yield return "Wharf:Metrics: set Token or TokenFile, not both.";
        }
        if (!string.IsNullOrEmpty(TokenFile))
        {
            string? problem = null;
            try
            {
                if (File.ReadLines(TokenFile).FirstOrDefault() is not { Length: > 0 } line || line.Trim().Length == 0) problem = "is empty";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"cannot be read ({e.Message})";
            }
            if (problem is not null) yield return $"Wharf:Metrics:TokenFile '{TokenFile}' {problem}.";
        }
    }

    private static IPNetwork? ParseNetwork(string entry)
    {
        var text = entry.Trim();
        if (IPNetwork.TryParse(text, out var network)) return network;
        if (IPAddress.TryParse(text, out var address))
        {
            return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        }
        return null;
    }
}
