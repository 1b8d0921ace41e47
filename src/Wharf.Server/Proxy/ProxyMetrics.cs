using System.Diagnostics.Metrics;

namespace Wharf.Server.Proxy;

/// <summary>
/// The pull-through cache's meter (<c>Wharf.Proxy</c>): cache hits, misses and upstream errors, each with the
/// <c>upstream</c> (the proxy namespace, or <c>mirror</c>) and the <c>kind</c> (<c>manifest</c>, <c>blob</c>).
/// </summary>
public sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "Wharf.Proxy";

    private readonly Meter _meter;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _upstreamErrors;

    public ProxyMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _hits = _meter.CreateCounter<long>("wharf.proxy.cache.hits", "{request}", "Pulls through a proxy served from the cache.");
        _misses = _meter.CreateCounter<long>("wharf.proxy.cache.misses", "{request}", "Pulls through a proxy fetched from the upstream.");
        _upstreamErrors = _meter.CreateCounter<long>("wharf.proxy.upstream.errors", "{request}", "Upstream requests that failed (unreachable, timed out, 429, 5xx, corrupt content).");
    }

    public void Hit(string upstream, string kind) => _hits.Add(1, new("upstream", upstream), new("kind", kind));

    public void Miss(string upstream, string kind) => _misses.Add(1, new("upstream", upstream), new("kind", kind));

    public void UpstreamError(string upstream, string kind) => _upstreamErrors.Add(1, new("upstream", upstream), new("kind", kind));

    public void Dispose() => _meter.Dispose();
}
