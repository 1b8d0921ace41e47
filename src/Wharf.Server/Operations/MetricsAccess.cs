using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Wharf.Server.Operations;

/// <summary>Who may scrape <c>/metrics</c>: an address in <see cref="MetricsOptions.AllowedNetworks"/> and, when a token is set, that token.</summary>
public sealed class MetricsAccess
{
    private readonly IReadOnlyList<IPNetwork> _networks;
    private readonly byte[]? _tokenHash;

    public MetricsAccess(MetricsOptions options)
    {
        _networks = options.Networks();
        _tokenHash = options.ResolveToken() is { } token ? SHA256.HashData(Encoding.UTF8.GetBytes(token)) : null;
    }

    /// <summary>Null when allowed, else the status to answer (403: address, 401: token).</summary>
    public int? Refuse(HttpContext context)
    {
        if (_networks.Count > 0)
        {
            var address = context.Connection.RemoteIpAddress;
            if (address is null) return StatusCodes.Status403Forbidden;
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            var allowed = false;
            foreach (var network in _networks)
            {
                if (network.Contains(address)) { allowed = true; break; }
            }
            if (!allowed) return StatusCodes.Status403Forbidden;
        }
        if (_tokenHash is not null)
        {
            var header = context.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return StatusCodes.Status401Unauthorized;
            var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
            if (!CryptographicOperations.FixedTimeEquals(given, _tokenHash)) return StatusCodes.Status401Unauthorized;
        }
        return null;
    }
}
