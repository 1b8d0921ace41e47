using Microsoft.Data.Sqlite;
using Wharf.Core.Events;

namespace Wharf.Data.Sqlite;

/// <summary>
/// Opens pooled connections to the metadata database with Wharf's pragmas, and serializes writes in-process:
/// every write goes through one gate and a <c>BEGIN IMMEDIATE</c> transaction, so concurrent writers queue here
/// instead of failing with SQLITE_BUSY. Reads open their own connection and do not take the gate (WAL lets
/// them run beside the writer).
/// </summary>
public sealed class SqliteConnectionFactory : IDisposable
{
    private const string ConnectionPragmas =
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;";

    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private readonly ISqliteChangeJournal[] _journals;
    private int _walEnabled;

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
        await _writerGate.WaitAsync(cancellationToken);
        SqliteConnection? connection = null;
        try
        {
            connection = await OpenAsync(cancellationToken);
            // deferred: false makes Microsoft.Data.Sqlite issue BEGIN IMMEDIATE: the write lock is taken up front.
            var transaction = connection.BeginTransaction(deferred: false);
            return new SqliteWriteScope(connection, transaction, _writerGate);
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync();
            _writerGate.Release();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in one write transaction and commits it.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using var scope = await BeginWriteAsync(cancellationToken);
        var result = await work(scope.Connection, scope.Transaction);
        scope.Commit();
        return result;
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
    private bool _disposed;

    internal SqliteWriteScope(SqliteConnection connection, SqliteTransaction transaction, SemaphoreSlim gate)
    {
        Connection = connection;
        Transaction = transaction;
        _gate = gate;
    }

    public SqliteConnection Connection { get; }

    public SqliteTransaction Transaction { get; }

    public void Commit() => Transaction.Commit();

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
    }
}
