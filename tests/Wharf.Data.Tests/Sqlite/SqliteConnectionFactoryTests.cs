using Dapper;
using Wharf.Core.Registry;
using Wharf.Data.Sqlite;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests.Sqlite;

public sealed class SqliteConnectionFactoryTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly SqliteTestDatabase _database = new();

    public async Task InitializeAsync() => await new SqliteMigrator(_database.Connections).MigrateAsync(Ct);

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_bundled_sqlite_is_3_53_or_newer()
    {
        // Microsoft.Data.Sqlite 10 brings SQLite 3.53 (RETURNING, UPSERT, math functions, current FTS5); the
        // earlier Microsoft.Data.Sqlite.Core 6 + bundle_e_sqlite3 2.0.6 pair gave 3.35 from 2021.
        await using var connection = await _database.Connections.OpenAsync(Ct);
        var version = Version.Parse(await connection.ExecuteScalarAsync<string>("SELECT sqlite_version()") ?? "0.0");
        Assert.True(version >= new Version(3, 53), $"SQLite {version} is older than 3.53.");
    }

    [Fact]
    public async Task Writes_wait_for_the_writer_gate()
    {
        var store = new SqliteRegistryStore(_database.Connections);
        Task link;
        Task<SqliteWriteScope> second;
        await using (var scope = await _database.Connections.BeginWriteAsync(Ct))
        {
            link = store.LinkBlobAsync("library/alpine", BlobDigest("a"), 1, Ct);
            second = _database.Connections.BeginWriteAsync(Ct);
            await Task.Delay(200, Ct);
            Assert.False(link.IsCompleted);
            Assert.False(second.IsCompleted);
            scope.Commit();
        }
        // The gate is released: the queued writers now run one after the other.
        await using (await second.WaitAsync(TimeSpan.FromSeconds(10), Ct))
        {
        }
        await link.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(1, await store.GetLinkedBlobSizeAsync("library/alpine", BlobDigest("a"), Ct));
    }

    [Fact]
    public async Task The_wal_is_checkpointed_in_the_background_after_a_hundred_commits_and_never_by_a_commit()
    {
        await using var database = new SqliteTestDatabase();
        var connections = database.Connections;
        var checkpointed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        connections.CheckpointFinished += failure => checkpointed.TrySetResult(failure);
        const string insert = "INSERT INTO filler (data) VALUES (randomblob(49152))";
        await connections.WriteAsync((c, t) => c.ExecuteAsync("CREATE TABLE filler (data BLOB)", transaction: t), Ct);
        for (var commit = 2; commit < SqliteConnectionFactory.CommitsPerCheckpoint; commit++)
        {
            await connections.WriteAsync((c, t) => c.ExecuteAsync(insert, transaction: t), Ct);
        }

        // 99 commits of some 1,200 pages, more than SQLite's own automatic threshold (1,000): all still in the WAL.
        Assert.Equal(0, connections.CheckpointsDone);
        Assert.True(new FileInfo(database.DatabasePath).Length < 1024 * 1024, "a commit checkpointed the WAL");

        await connections.WriteAsync((c, t) => c.ExecuteAsync(insert, transaction: t), Ct);
        Assert.Null(await checkpointed.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.True(new FileInfo(database.DatabasePath).Length > 99L * 49152, "the checkpoint did not copy the WAL into the database");
        await using var reader = await connections.OpenAsync(Ct);
        Assert.Equal(SqliteConnectionFactory.CommitsPerCheckpoint - 1, await reader.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM filler"));
    }

    [Fact]
    public async Task A_background_writer_lets_request_writers_queued_after_it_go_first()
    {
        var connections = _database.Connections;
        var first = await connections.BeginWriteAsync(Ct);
        var background = connections.BeginBackgroundWriteAsync(Ct);
        await Task.Yield();
        var request = connections.BeginWriteAsync(Ct); // queued behind the background writer
        Assert.False(background.IsCompleted);
        Assert.False(request.IsCompleted);

        await first.DisposeAsync();
        // The request writer gets the gate although it queued last; the background writer waits for it.
        var second = await request.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.False(background.IsCompleted);
        await second.DisposeAsync();
        await using (await background.WaitAsync(TimeSpan.FromSeconds(30), Ct))
        {
        }
    }

    [Fact]
    public async Task A_background_writer_takes_its_turn_after_a_bounded_number_of_request_writers()
    {
        var connections = _database.Connections;
        var holding = await connections.BeginWriteAsync(Ct);
        var background = connections.BeginBackgroundWriteAsync(Ct);
        // A request writer is always waiting: each time the background writer gets the gate it hands it on, up to its limit.
        var next = connections.BeginWriteAsync(Ct);
        var served = 0;
        while (true)
        {
            await holding.DisposeAsync();
            var winner = await Task.WhenAny(next, background).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            if (winner == background) break;
            served++;
            // Each turn the background writer gets, it hands on (at most MaxBackgroundDeferrals times). A request writer may
            // also queue ahead of it by itself, in the moment between its hand-over and its queueing again (FIFO): at most
            // one per hand-over.
            Assert.True(served <= 2 * SqliteConnectionFactory.MaxBackgroundDeferrals, $"the background writer still waits after {served} request writers");
            holding = await next;
            next = connections.BeginWriteAsync(Ct);
        }
        Assert.InRange(served, SqliteConnectionFactory.MaxBackgroundDeferrals, 2 * SqliteConnectionFactory.MaxBackgroundDeferrals);
        await using (await background)
        {
            Assert.False(next.IsCompleted);
        }
        await using (await next.WaitAsync(TimeSpan.FromSeconds(30), Ct))
        {
        }
    }

    [Fact]
    public async Task Reads_run_while_a_write_transaction_is_open()
    {
        var store = new SqliteRegistryStore(_database.Connections);
        await store.EnsureRepositoryAsync("library/alpine", Ct);
        await using var scope = await _database.Connections.BeginWriteAsync(Ct);
        await scope.Connection.ExecuteAsync("INSERT INTO repositories (name, created_at) VALUES ('uncommitted', 0)", transaction: scope.Transaction);

        var read = store.ListRepositoriesAsync(null, 10, Ct);
        Assert.Equal(["library/alpine"], await read.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.False(await store.RepositoryExistsAsync("uncommitted", Ct));
    }

    [Fact]
    public async Task A_write_scope_disposed_without_commit_rolls_back_and_releases_the_gate()
    {
        await using (var scope = await _database.Connections.BeginWriteAsync(Ct))
        {
            await scope.Connection.ExecuteAsync("INSERT INTO repositories (name, created_at) VALUES ('rolled-back', 0)", transaction: scope.Transaction);
        }
        var store = new SqliteRegistryStore(_database.Connections);
        await store.EnsureRepositoryAsync("library/alpine", Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(await store.RepositoryExistsAsync("rolled-back", Ct));
        Assert.Equal(PutManifestStatus.MissingReference, (await store.PutManifestAsync("library/alpine", Image(BlobDigest("c"), []), [], null, Ct)).Status);
    }
}
