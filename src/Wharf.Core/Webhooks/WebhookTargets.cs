using System.Net;
using System.Net.Sockets;

namespace Wharf.Core.Webhooks;

/// <summary>
/// Which addresses a webhook may call. Public addresses always; loopback, private, link-local, shared, unique-local,
/// multicast and unspecified ones only when <see cref="WebhookOptions.AllowedTargets"/> names the host (and port) or
/// a range holding the address. Checked when a webhook is created (the URL's host resolved) and again for the address
/// each delivery actually connects to, so a name that later resolves elsewhere gains nothing.
/// </summary>
public sealed class WebhookTargets
{
    private readonly List<(string Host, int? Port)> _hosts = [];
    private readonly List<IPNetwork> _networks = [];

    private static readonly IPNetwork[] NonPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("224.0.0.0/3"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    public WebhookTargets(WebhookOptions options)
    {
        foreach (var entry in options.AllowedTargets)
        {
            if (!TryParseAllowance(entry, out var allowance)) continue;
            if (allowance.Network is { } network) _networks.Add(network);
            else _hosts.Add((allowance.Host!, allowance.Port));
        }
    }

    /// <summary>An allow-list entry: a range, or a host with an optional port.</summary>
    public readonly record struct Allowance(IPNetwork? Network, string? Host, int? Port);

    public static bool TryParseAllowance(string entry, out Allowance allowance)
    {
        allowance = default;
        var text = entry.Trim();
        if (text.Length == 0) return false;
        if (IPNetwork.TryParse(text, out var network)) { allowance = new Allowance(network, null, null); return true; }
        if (IPAddress.TryParse(text.Trim('[', ']'), out var single))
        {
            allowance = new Allowance(new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128), null, null);
            return true;
        }
        if (!Uri.TryCreate("http://" + text, UriKind.Absolute, out var uri) || uri.PathAndQuery != "/" || !string.IsNullOrEmpty(uri.UserInfo)) return false;
        var hasPort = text.EndsWith(":" + uri.Port, StringComparison.Ordinal);
        allowance = new Allowance(null, uri.IdnHost.Trim('[', ']').ToLowerInvariant(), hasPort ? uri.Port : null);
        return true;
    }

    /// <summary>Whether <paramref name="address"/> is public (nothing to allow).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var range in NonPublic)
        {
            if (range.Contains(address)) return false;
        }
        return true;
    }

    /// <summary>Whether a delivery to <paramref name="host"/>:<paramref name="port"/> may connect to <paramref name="address"/>.</summary>
    public bool Allows(string host, int port, IPAddress address)
    {
        if (IsPublic(address)) return true;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var name = host.Trim('[', ']').ToLowerInvariant();
        foreach (var (allowedHost, allowedPort) in _hosts)
        {
            if (allowedHost == name && (allowedPort is null || allowedPort == port)) return true;
        }
        foreach (var network in _networks)
        {
            if (network.Contains(address)) return true;
        }
        return false;
    }

    /// <summary>Null when the URL may be a webhook target, else why not (for the problem details of a refused create).</summary>
    public async Task<string?> RefuseAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return "url must be an absolute http or https URL.";
        }
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "url must not carry credentials; use the secret to authenticate deliveries.";
        if (url.Length > 2048) return "url is longer than 2048 characters.";
        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return $"The host '{uri.Host}' cannot be resolved.";
            }
        }
        if (addresses.Length == 0) return $"The host '{uri.Host}' cannot be resolved.";
        foreach (var address in addresses)
        {
            if (!Allows(uri.IdnHost, uri.Port, address))
            {
                return $"'{uri.Host}' is a loopback, private or otherwise non-public address ({address}); an operator allows such targets in Wharf:Webhooks:AllowedTargets.";
            }
        }
        return null;
    }
}
