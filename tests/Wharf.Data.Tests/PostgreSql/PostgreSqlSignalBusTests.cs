using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Wharf.Core.Signals;
using Wharf.Data.PostgreSql;
using Wharf.Testing.Services;

namespace Wharf.Data.Tests.PostgreSql;

/// <summary>LISTEN/NOTIFY between two nodes on one database: what one publishes, the other hears at once; a node's own signals reach it once.</summary>
public sealed class PostgreSqlSignalBusTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private PostgresTestDatabase? _database;
    private readonly List<(PostgreSqlConnections Connections, PostgreSqlSignalBus Bus)> _nodes = [];

    public async Task InitializeAsync() => _database = await PostgresService.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var (connections, bus) in _nodes)
        {
            await bus.StopAsync(CancellationToken.None);
            bus.Dispose();
            await connections.DisposeAsync();
        }
        if (_database is not null) await _database.DisposeAsync();
    }

    private async Task<PostgreSqlSignalBus> StartNodeAsync()
    {
        var connections = new PostgreSqlConnections(_database!.ConnectionString);
        var bus = new PostgreSqlSignalBus(connections, new InProcessSignalBus(), NullLogger<PostgreSqlSignalBus>.Instance);
        _nodes.Add((connections, bus));
        await bus.StartAsync(CancellationToken.None);
        await bus.Listening.WaitAsync(Wait);
        return bus;
    }

    private static (ConcurrentQueue<string> Heard, SemaphoreSlim Arrived) Listen(ISignalBus bus, SignalTopic topic)
    {
        var heard = new ConcurrentQueue<string>();
        var arrived = new SemaphoreSlim(0);
        bus.Subscribe(topic, subject =>
        {
            heard.Enqueue(subject);
            arrived.Release();
        });
        return (heard, arrived);
    }

    [Fact]
    public async Task A_signal_published_on_one_node_reaches_the_other_and_its_own_subscribers_once()
    {
        var a = await StartNodeAsync();
        var b = await StartNodeAsync();
        var onA = Listen(a, SignalTopic.TagChanged);
        var onB = Listen(b, SignalTopic.TagChanged);
        var otherTopic = Listen(b, SignalTopic.BuildQueued);

        a.Publish(SignalTopic.TagChanged, "team/app:v1");
        Assert.True(await onB.Arrived.WaitAsync(Wait));
        Assert.Equal(["team/app:v1"], onB.Heard);
        // A heard it synchronously when it published, and does not hear its own notification again.
        Assert.Equal(["team/app:v1"], onA.Heard);
        b.Publish(SignalTopic.TagChanged, "team/app:v2");
        Assert.True(await onA.Arrived.WaitAsync(Wait));
        Assert.True(await onA.Arrived.WaitAsync(Wait));
        Assert.Equal(["team/app:v1", "team/app:v2"], onA.Heard);
        Assert.Equal(["team/app:v1", "team/app:v2"], onB.Heard);
        Assert.Empty(otherTopic.Heard);
    }

    [Fact]
    public async Task A_node_whose_listening_connection_is_cut_starts_afresh_and_hears_again()
    {
        var a = await StartNodeAsync();
        var b = await StartNodeAsync();
        var onB = Listen(b, SignalTopic.TagChanged);
        // Cut every other session of this database: B's listener among them.
        await using (var admin = new NpgsqlConnection(_database!.ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", admin);
            await kill.ExecuteNonQueryAsync();
        }
        // B tells its subscribers that anything may have changed, reconnects, and hears what is published next.
        var deadline = DateTime.UtcNow + Wait;
        while (!onB.Heard.Contains(ISignalBus.AnySubject))
        {
            Assert.True(await onB.Arrived.WaitAsync(deadline - DateTime.UtcNow), "no 'anything changed' after the connection was cut");
        }
        while (!onB.Heard.Contains("team/app:v3"))
        {
            a.Publish(SignalTopic.TagChanged, "team/app:v3");
            await onB.Arrived.WaitAsync(TimeSpan.FromMilliseconds(500));
            Assert.True(DateTime.UtcNow < deadline, "B did not hear signals again after reconnecting");
        }
    }
}
