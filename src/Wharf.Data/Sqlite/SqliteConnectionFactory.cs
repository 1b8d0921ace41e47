using Microsoft.Data.Sqlite;
using Wharf.Core.Events;

namespace Wharf.Data.Sqlite;

/// <summary>
/// Opens pooled connections to the metadata database with Wharf's pragmas, and serializes writes in-process:
/// every write goes through one gate and a <c>BEGIN IMMEDIATE</c> transaction, so concurrent writers queue here
/// instead of failing with SQLITE_BUSY. Reads open their own connection and do not take the gate (WAL lets
/// them run beside the writer). Background writers (the garbage collector's pages, <see cref="BeginBackgroundWriteAsync"/>)
/// take the gate only when no request writer is waiting for it, so a push queues behind at most the one background
/// transaction already running. WAL checkpoints run outside the gate, on their own connection, every
/// <see cref="CommitsPerCheckpoint"/> commits (SQLite's own automatic checkpoint would run inside whichever commit
/// crosses its threshold, and every writer queued at the gate would wait for its fsyncs).
/// </summary>
public sealed class SqliteConnectionFactory : IDisposable
{
    private const string ConnectionPragmas =
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=0;";

    /// <summary>
    /// How many commits go by between two WAL checkpoints. Wharf's commits are a few rows each, so the WAL stays
    /// small between two checkpoints.
    /// </summary>
    public const int CommitsPerCheckpoint = 100;

    /// <summary>
    /// How many times a background writer hands the gate on to request writers waiting for it before it takes its turn
    /// anyway: under a steady stream of pushes, background work still gets one transaction in this many plus one.
    /// </summary>
    public const int MaxBackgroundDeferrals = 100;

    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private int _requestWritersWaiting;
    private readonly ISqliteChangeJournal[] _journals;
    private int _walEnabled;
    private int _commitsSinceCheckpoint;
    private int _checkpointRunning;
    private long _checkpointsDone;

    /// <param name="journals">Told about every registry change inside its write transaction (see <see cref="ISqliteChangeJournal"/>).</param>
    public SqliteConnectionFactory(SqliteOptions options, IEnumerable<ISqliteChangeJournal>? journals = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _journals = journals is null ? [] : [.. journals];
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ConnectionString);
        ConnectionString = options.ConnectionString;
        var builder = new SqliteConnectionStringBuilder(ConnectionString);
        if (builder.Mode != SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource) && builder.DataSource != ":memory:")
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        }
    }

    public string ConnectionString { get; }

    /// <summary>Opens a connection (from the pool when one is free) with the pragmas applied.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            // journal_mode is a property of the database file: set it once, not on every open.
            command.CommandText = Volatile.Read(ref _walEnabled) == 0
                ? "PRAGMA journal_mode=WAL; " + ConnectionPragmas
                : ConnectionPragmas;
            await command.ExecuteNonQueryAsync(cancellationToken);
            Volatile.Write(ref _walEnabled, 1);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits for the writer gate, opens a connection and begins a <c>BEGIN IMMEDIATE</c> transaction.
    /// Dispose the scope to roll back (unless committed) and release the gate.
    /// </summary>
    public async Task<SqliteWriteScope> BeginWriteAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requestWritersWaiting);
        try
        {
            await _writerGate.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _requestWritersWaiting);
        }
        return await BeginTransactionHoldingGateAsync(cancellationToken);
    }

    /// <summary>
    /// As <see cref="BeginWriteAsync"/>, for work no client waits on (the garbage collector): while request writers wait
    /// for the gate, it hands the gate on to them and queues again behind them, at most <see cref="MaxBackgroundDeferrals"/>
    /// times.
    /// </summary>
    public async Task<SqliteWriteScope> BeginBackgroundWriteAsync(CancellationToken cancellationToken)
    {
        for (var deferred = 0; ; deferred++)
        {
            await _writerGate.WaitAsync(cancellationToken);
            if (Volatile.Read(ref _requestWritersWaiting) == 0 || deferred >= MaxBackgroundDeferrals) break;
            // The gate goes to the first waiter in line (a request writer), and this one queues again at once, behind
            // every writer waiting now. A request writer counted but not yet in line gets a moment to get there.
            _writerGate.Release();
            if (_writerGate.CurrentCount > 0) await Task.Yield();
        }
        return await BeginTransactionHoldingGateAsync(cancellationToken);
    }

    /// <summary>Opens the connection and begins the transaction of a writer that holds the gate; releases it on failure.</summary>
    private async Task<SqliteWriteScope> BeginTransactionHoldingGateAsync(CancellationToken cancellationToken)
    {
        SqliteConnection? connection = null;
        try
        {
            connection = await OpenAsync(cancellationToken);
            // deferred: false makes Microsoft.Data.Sqlite issue BEGIN IMMEDIATE: the write lock is taken up front.
            var transaction = connection.BeginTransaction(deferred: false);
            return new SqliteWriteScope(connection, transaction, _writerGate, this);
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync();
            _writerGate.Release();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in one write transaction and commits it.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return CommitAsync(BeginWriteAsync(cancellationToken), work);
    }

    /// <summary>Runs <paramref name="work"/> in one background write transaction (<see cref="BeginBackgroundWriteAsync"/>) and commits it.</summary>
    public Task<T> WriteInBackgroundAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return CommitAsync(BeginBackgroundWriteAsync(cancellationToken), work);
    }

    private static async Task<T> CommitAsync<T>(Task<SqliteWriteScope> begin, Func<SqliteConnection, SqliteTransaction, Task<T>> work)
    {
        await using var scope = await begin;
        var result = await work(scope.Connection, scope.Transaction);
        scope.Commit();
        return result;
    }

    /// <summary>How many background WAL checkpoints have finished (successfully or not) since this factory was made.</summary>
    public long CheckpointsDone => Interlocked.Read(ref _checkpointsDone);

    /// <summary>Raised after each background WAL checkpoint, with its failure or null.</summary>
    public event Action<Exception?>? CheckpointFinished;

    /// <summary>
    /// Copies the WAL's committed pages into the database file (<c>PRAGMA wal_checkpoint(PASSIVE)</c>: it waits for no
    /// reader nor writer) on a connection of its own, outside the writer gate.
    /// </summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Called by a write scope after its commit, once it has let go of the gate.</summary>
    internal void Committed()
    {
        if (Interlocked.Increment(ref _commitsSinceCheckpoint) < CommitsPerCheckpoint) return;
        if (Interlocked.CompareExchange(ref _checkpointRunning, 1, 0) != 0) return;
        Interlocked.Exchange(ref _commitsSinceCheckpoint, 0);
        _ = Task.Run(RunBackgroundCheckpointAsync);
    }

    private async Task RunBackgroundCheckpointAsync()
    {
        Exception? failure = null;
        try
        {
            await CheckpointAsync(CancellationToken.None);
        }
        catch (Exception exception) when (exception is SqliteException or IOException or InvalidOperationException)
        {
            // Nothing is lost: the pages stay in the WAL, and the next checkpoint copies them.
            failure = exception;
        }
        finally
        {
            Interlocked.Increment(ref _checkpointsDone);
            Volatile.Write(ref _checkpointRunning, 0);
        }
        CheckpointFinished?.Invoke(failure);
    }

    /// <summary>
    /// Hands a change to every <see cref="ISqliteChangeJournal"/> inside the write transaction that makes it; a store
    /// calls this once the write has happened and before it commits. Nothing to do for a null change.
    /// </summary>
    public async Task JournalAsync(SqliteConnection connection, SqliteTransaction transaction, RegistryChange? change, CancellationToken cancellationToken)
    {
        if (change is null) return;
        foreach (var journal in _journals) await journal.AppendAsync(connection, transaction, change, cancellationToken);
    }

    public void Dispose() => _writerGate.Dispose();
}

/// <summary>A write transaction holding the in-process writer gate.</summary>
public sealed class SqliteWriteScope : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate;
    private readonly SqliteConnectionFactory _factory;
    private bool _committed;
    private bool _disposed;

    internal SqliteWriteScope(SqliteConnection connection, SqliteTransaction transaction, SemaphoreSlim gate, SqliteConnectionFactory factory)
    {
        Connection = connection;
        Transaction = transaction;
        _gate = gate;
        _factory = factory;
    }

    public SqliteConnection Connection { get; }

    public SqliteTransaction Transaction { get; }

    public void Commit()
    {
        Transaction.Commit();
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            // Rolls back when not committed.
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            _gate.Release();
        }
        if (_committed) _factory.Committed();
    }
}
