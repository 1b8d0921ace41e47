using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Wharf.Server.Http;

/// <summary>Section <c>Wharf:Http</c>: how Wharf sits behind a reverse proxy.</summary>
public sealed class HttpOptions
{
    public const string Section = "Wharf:Http";

    /// <summary>
    /// Addresses (<c>127.0.0.1</c>, <c>::1</c>) or networks (<c>192.0.2.0/24</c>) of reverse proxies whose
    /// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed. Default none: the client address is the
    /// connection's, whatever the headers say, so no client can pick the address that failed-login limits and the audit
    /// log see. Given as a list (<c>Wharf:Http:KnownProxies:0</c>, …) or one comma-separated value.
    /// </summary>
    public IReadOnlyList<string> KnownProxies { get; init; } = [];
}

/// <summary>
/// ASP.NET Core's forwarded-headers support, believing only <see cref="HttpOptions.KnownProxies"/>. Unlike the
/// framework's default, loopback is not trusted unless listed: a proxy on the same machine is listed like any other.
/// </summary>
public static class ForwardedHeadersSetup
{
    /// <summary>Reads and checks <c>Wharf:Http</c>; returns the problems found (none: registered).</summary>
    public static IReadOnlyList<string> AddWharfForwardedHeaders(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(HttpOptions.Section).GetSection(nameof(HttpOptions.KnownProxies));
        IEnumerable<string?> values = section.Value is { } single ? single.Split(',') : section.GetChildren().Select(c => c.Value);
        var entries = values.Select(v => v?.Trim()).Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToList();
        var problems = new List<string>();
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            // Walk back through every listed proxy in a chain; the first address that is not one is the client.
            ForwardLimit = null,
        };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var entry in entries)
        {
            if (entry.Contains('/', StringComparison.Ordinal))
            {
                if (System.Net.IPNetwork.TryParse(entry, out var network)) forwarded.KnownIPNetworks.Add(network);
                else problems.Add($"Wharf:Http:KnownProxies: '{entry}' is not an address or a network (such as 127.0.0.1, ::1 or 192.0.2.0/24).");
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                forwarded.KnownProxies.Add(address);
                // A proxy that connects over IPv4 may show up as an IPv4-mapped IPv6 address on a dual-stack socket.
                if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) forwarded.KnownProxies.Add(address.MapToIPv6());
            }
            else
            {
                problems.Add($"Wharf:Http:KnownProxies: '{entry}' is not an address or a network (such as 127.0.0.1, ::1 or 192.0.2.0/24).");
            }
        }
        if (problems.Count > 0) return problems;
        services.AddSingleton(new HttpOptions { KnownProxies = entries });
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = forwarded.ForwardedHeaders;
            options.ForwardLimit = forwarded.ForwardLimit;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in forwarded.KnownProxies) options.KnownProxies.Add(proxy);
            foreach (var network in forwarded.KnownIPNetworks) options.KnownIPNetworks.Add(network);
        });
        return problems;
    }

    /// <summary>Rewrites the connection's client address and scheme from a known proxy's headers; does nothing when none is listed.</summary>
    public static IApplicationBuilder UseWharfForwardedHeaders(this IApplicationBuilder app)
    {
        if (app.ApplicationServices.GetService<HttpOptions>() is not { KnownProxies.Count: > 0 }) return app;
        return app.UseForwardedHeaders();
    }
}
