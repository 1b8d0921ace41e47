using System.Text;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Core.Signals;

namespace Wharf.Core.Tests.Signals;

/// <summary>The manifest cache forgets through the signal bus: what this node or another node signals is dropped at once.</summary>
public sealed class ManifestCacheSignalTests : IDisposable
{
    private static readonly Digest First = Digest.Compute(Encoding.UTF8.GetBytes("first"));
    private static readonly Digest Second = Digest.Compute(Encoding.UTF8.GetBytes("second"));
    private readonly InProcessSignalBus _bus = new();
    private readonly ManifestCache _cache;

    public ManifestCacheSignalTests() => _cache = new ManifestCache(new RegistryOptions { TagCacheTtl = TimeSpan.FromHours(1) }, TimeProvider.System, _bus);

    public void Dispose() => _cache.Dispose();

    private static StoredManifest Manifest(Digest digest) => new(digest, "application/vnd.oci.image.manifest.v1+json", [1], null, null, DateTimeOffset.UnixEpoch);

    [Fact]
    public void A_tag_signal_from_another_node_drops_only_that_tag()
    {
        _cache.SetTag("team/app", "v1", First, _cache.Version);
        _cache.SetTag("team/app", "v2", First, _cache.Version);
        _bus.Publish(SignalTopic.TagChanged, "team/app:v1");
        Assert.False(_cache.TryGetTag("team/app", "v1", out _));
        Assert.True(_cache.TryGetTag("team/app", "v2", out var kept));
        Assert.Equal(First, kept);
    }

    [Fact]
    public void Invalidating_a_tag_publishes_it_for_other_nodes()
    {
        var seen = new List<string>();
        using var subscription = _bus.Subscribe(SignalTopic.TagChanged, seen.Add);
        _cache.SetTag("team/app", "v1", First, _cache.Version);
        _cache.InvalidateTag("team/app", "v1");
        Assert.Equal(["team/app:v1"], seen);
        Assert.False(_cache.TryGetTag("team/app", "v1", out _));
    }

    [Fact]
    public void A_manifest_delete_drops_the_manifest_and_every_tag_of_its_repository()
    {
        _cache.SetTag("team/app", "v1", First, _cache.Version);
        _cache.SetTag("other/app", "v1", First, _cache.Version);
        _cache.SetManifest("team/app", Manifest(First));
        _cache.SetManifest("team/app", Manifest(Second));
        _bus.Publish(SignalTopic.ManifestDeleted, "team/app@" + First);
        Assert.False(_cache.TryGetTag("team/app", "v1", out _));
        Assert.False(_cache.TryGetManifest("team/app", First, out _));
        Assert.True(_cache.TryGetManifest("team/app", Second, out _));
        Assert.True(_cache.TryGetTag("other/app", "v1", out _));
    }

    [Fact]
    public void A_resolution_read_while_an_invalidation_arrived_is_not_cached()
    {
        // A GET reads the old digest from the store; meanwhile another node moves the tag and its signal arrives.
        var before = _cache.Version;
        _bus.Publish(SignalTopic.TagChanged, "team/app:v1");
        _cache.SetTag("team/app", "v1", First, before);
        Assert.False(_cache.TryGetTag("team/app", "v1", out _));
        // The next read, started after the signal, is cached.
        _cache.SetTag("team/app", "v1", Second, _cache.Version);
        Assert.True(_cache.TryGetTag("team/app", "v1", out var fresh));
        Assert.Equal(Second, fresh);
    }

    [Fact]
    public void Missed_signals_clear_everything()
    {
        _cache.SetTag("team/app", "v1", First, _cache.Version);
        _cache.SetManifest("team/app", Manifest(First));
        _bus.PublishAnyChange();
        Assert.False(_cache.TryGetTag("team/app", "v1", out _));
        Assert.False(_cache.TryGetManifest("team/app", First, out _));
    }
}

public sealed class SignalBusTests
{
    [Fact]
    public async Task A_signal_between_two_waits_is_kept_for_the_next_wait()
    {
        var bus = new InProcessSignalBus();
        using var waiter = new SignalWaiter(bus, SignalTopic.BuildChanged, "b1");
        bus.Publish(SignalTopic.BuildChanged, "b1");
        bus.Publish(SignalTopic.BuildChanged, "b1");
        Assert.True(await waiter.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None));
        // Two signals before one wait are one wake-up; other subjects and topics wake nothing.
        bus.Publish(SignalTopic.BuildChanged, "b2");
        bus.Publish(SignalTopic.BuildQueued, "b1");
        Assert.False(await waiter.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        bus.Publish(SignalTopic.BuildChanged, ISignalBus.AnySubject);
        Assert.True(await waiter.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public void A_failing_handler_does_not_stop_the_others_and_disposed_subscriptions_hear_nothing()
    {
        var bus = new InProcessSignalBus();
        var failures = new List<Exception>();
        bus.HandlerFailed = (_, e) => failures.Add(e);
        var heard = new List<string>();
        using (bus.Subscribe(SignalTopic.TagChanged, _ => throw new InvalidOperationException("boom")))
        using (bus.Subscribe(SignalTopic.TagChanged, heard.Add))
        {
            bus.Publish(SignalTopic.TagChanged, "a:1");
        }
        bus.Publish(SignalTopic.TagChanged, "a:2");
        Assert.Equal(["a:1"], heard);
        Assert.Single(failures);
    }
}
