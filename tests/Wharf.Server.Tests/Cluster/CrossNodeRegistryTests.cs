using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Registry;
using Wharf.Core.Signals;
using Wharf.Data.PostgreSql;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Cluster;

/// <summary>
/// Two Wharf nodes on one PostgreSQL database: a tag moved or a manifest deleted through node A is served fresh by node B
/// as soon as A's signal reaches B (milliseconds, not B's tag cache TTL, set to an hour here so that only the signal can
/// explain a fresh answer), and B's warm manifest GETs still touch no database.
/// </summary>
public sealed class CrossNodeRegistryTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const string LongTtl = "--Wharf:Registry:TagCacheTtl=01:00:00";
    private WharfTestServer _a = null!;
    private WharfTestServer _b = null!;
    private HttpClient _httpA = null!;
    private HttpClient _httpB = null!;
    private CallCounter<IRegistryStore> _storeOfB = null!;

    public async Task InitializeAsync()
    {
        _a = await WharfTestServer.StartOnAsync(WharfTestProviders.PostgreSql, AuthMode.Open, LongTtl);
        _b = await _a.StartAnotherNodeAsync(services => services.AddSingleton<IRegistryStore>(sp =>
        {
            var (proxy, counter) = CallCounter<IRegistryStore>.Wrap(new PostgreSqlRegistryStore(sp.GetRequiredService<PostgreSqlConnections>(), sp.GetService<TimeProvider>()));
            _storeOfB = counter;
            return proxy;
        }));
        _httpA = _a.CreateClient();
        _httpB = _b.CreateClient();
        await _a.Services.GetRequiredService<PostgreSqlSignalBus>().Listening.WaitAsync(Wait);
        await _b.Services.GetRequiredService<PostgreSqlSignalBus>().Listening.WaitAsync(Wait);
    }

    public async Task DisposeAsync()
    {
        _httpA.Dispose();
        _httpB.Dispose();
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    private static async Task<string?> DigestOfAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return response.StatusCode == HttpStatusCode.OK ? RegistryClient.Header(response, "Docker-Content-Digest") : null;
    }

    /// <summary>Completes when node B has heard a signal of <paramref name="topic"/> about <paramref name="subject"/>.</summary>
    private Task HeardOnBAsync(SignalTopic topic, string subject)
    {
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscription = _b.Services.GetRequiredService<ISignalBus>().Subscribe(topic, s =>
        {
            if (s == subject) heard.TrySetResult();
        });
        return heard.Task.WaitAsync(Wait).ContinueWith(t =>
        {
            subscription.Dispose();
            t.GetAwaiter().GetResult();
        }, TaskScheduler.Default);
    }

    [Fact]
    public async Task A_tag_moved_through_node_A_is_served_fresh_by_node_B_at_once()
    {
        var v1 = await new RegistryClient(_httpA).PushImageAsync("team/app", "stable", "one");
        Assert.Equal(v1.Digest.ToString(), await DigestOfAsync(_httpB, "v2/team/app/manifests/stable"));

        // B now has "stable" cached for an hour. Warm GETs on B read nothing from the database.
        var before = _storeOfB.Total;
        for (var i = 0; i < 20; i++) Assert.Equal(v1.Digest.ToString(), await DigestOfAsync(_httpB, "v2/team/app/manifests/stable"));
        Assert.Equal(before, _storeOfB.Total);

        var heard = HeardOnBAsync(SignalTopic.TagChanged, "team/app:stable");
        var started = DateTime.UtcNow;
        var v2 = await new RegistryClient(_httpA).PushImageAsync("team/app", "stable", "two");
        await heard;
        var latency = DateTime.UtcNow - started;
        Assert.Equal(v2.Digest.ToString(), await DigestOfAsync(_httpB, "v2/team/app/manifests/stable"));
        Assert.True(latency < TimeSpan.FromSeconds(5), $"the signal took {latency.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task A_tag_or_manifest_deleted_through_node_A_is_gone_on_node_B_at_once()
    {
        var image = await new RegistryClient(_httpA).PushImageAsync("team/app", "v1", "one");
        Assert.NotNull(await DigestOfAsync(_httpB, "v2/team/app/manifests/v1"));
        Assert.NotNull(await DigestOfAsync(_httpB, $"v2/team/app/manifests/{image.Digest}"));

        var tagGone = HeardOnBAsync(SignalTopic.TagChanged, "team/app:v1");
        using (var delete = await _httpA.DeleteAsync("v2/team/app/manifests/v1")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        await tagGone;
        Assert.Null(await DigestOfAsync(_httpB, "v2/team/app/manifests/v1"));

        var manifestGone = HeardOnBAsync(SignalTopic.ManifestDeleted, $"team/app@{image.Digest}");
        using (var delete = await _httpA.DeleteAsync($"v2/team/app/manifests/{image.Digest}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        await manifestGone;
        Assert.Null(await DigestOfAsync(_httpB, $"v2/team/app/manifests/{image.Digest}"));
    }

    [Fact]
    public async Task A_push_through_node_B_is_listed_and_pulled_through_node_A()
    {
        var image = await new RegistryClient(_httpB).PushImageAsync("team/other", "v1", "b");
        Assert.Equal(image.Digest.ToString(), await DigestOfAsync(_httpA, "v2/team/other/manifests/v1"));
        using var tags = await _httpA.GetAsync("v2/team/other/tags/list");
        Assert.Contains("\"v1\"", await tags.Content.ReadAsStringAsync());
    }
}
