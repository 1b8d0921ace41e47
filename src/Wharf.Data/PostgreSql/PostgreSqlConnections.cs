using System.Net.Sockets;
using Npgsql;
using Wharf.Core.Events;
using Wharf.Core.Registry;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// Pooled connections to the PostgreSQL metadata database (one <see cref="NpgsqlDataSource"/> per process) and write
/// transactions that are retried when PostgreSQL aborts them for a serialization failure or a deadlock. Unlike SQLite,
/// writers run in parallel: each store takes the row locks its invariants need.
/// </summary>
public sealed class PostgreSqlConnections : IAsyncDisposable, IDisposable
{
    private const int MaxAttempts = 5;

    private readonly IPostgreSqlChangeJournal[] _journals;

    /// <param name="journals">Told about every registry change inside its write transaction (see <see cref="IPostgreSqlChangeJournal"/>).</param>
    public PostgreSqlConnections(string connectionString, IEnumerable<IPostgreSqlChangeJournal>? journals = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _journals = journals is null ? [] : [.. journals];
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "wharf";
        Settings = builder;
        DataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>The parsed connection string (no password is ever shown from it).</summary>
    public NpgsqlConnectionStringBuilder Settings { get; }

    /// <summary>"PostgreSQL at host:port, database d, user u": where the store is, for messages.</summary>
    public string Describe() =>
        $"PostgreSQL at {Settings.Host ?? "localhost"}:{Settings.Port}, database '{Settings.Database ?? Settings.Username}', user '{Settings.Username}'";

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => DataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>Runs <paramref name="work"/> in one transaction and commits it; aborted attempts (40001, 40P01) run again.</summary>
    public async Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            try
            {
                var result = await work(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (PostgresException e) when (attempt < MaxAttempts && e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected)
            {
                // Rolled back on dispose; try again.
            }
        }
    }

    /// <summary>
    /// Hands a change to every <see cref="IPostgreSqlChangeJournal"/> inside the write transaction that makes it; a store
    /// calls this once the write has happened and before it commits. Nothing to do for a null change.
    /// </summary>
    public async Task JournalAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, RegistryChange? change, CancellationToken cancellationToken)
    {
        if (change is null) return;
        foreach (var journal in _journals) await journal.AppendAsync(connection, transaction, change, cancellationToken);
    }

    /// <summary>
    /// An operator's sentence for a failure to use the database: unreachable, credentials refused, database missing.
    /// Null when <paramref name="exception"/> is not about reaching the database.
    /// </summary>
    public string? DescribeFailure(Exception exception)
    {
        var where = Describe();
        switch (exception)
        {
            case PostgresException { SqlState: PostgresErrorCodes.InvalidPassword } e:
                return $"{where} refused the password of user '{Settings.Username}' ({e.MessageText}). Check the Username and Password in Wharf:Database:ConnectionString.";
            case PostgresException { SqlState: PostgresErrorCodes.InvalidAuthorizationSpecification } e:
                return $"{where} refused the connection ({e.MessageText}). Check the user and pg_hba.conf.";
            case PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } e:
                return $"{where}: {e.MessageText}. Create the database (createdb) or fix Database= in Wharf:Database:ConnectionString.";
            case PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } e:
                return $"{where}: user '{Settings.Username}' lacks a privilege Wharf needs ({e.MessageText}).";
            case PostgresException { SqlState: PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.CannotConnectNow } e:
                return $"{where} does not accept connections now ({e.MessageText}).";
            case NpgsqlException { InnerException: SocketException socket }:
                return $"Cannot reach {where}: {socket.Message}. Check that the server runs and Host/Port in Wharf:Database:ConnectionString.";
            case NpgsqlException { InnerException: TimeoutException }:
            case TimeoutException:
                return $"Cannot reach {where}: no answer within {Settings.Timeout} s.";
            case NpgsqlException { InnerException: IOException io }:
                return $"Cannot reach {where}: {io.Message}.";
            case SocketException socket:
                return $"Cannot reach {where}: {socket.Message}.";
            default:
                return null;
        }
    }

    /// <summary>Runs <paramref name="work"/>, turning a failure to reach the database into <see cref="MetadataStoreUnavailableException"/>.</summary>
    public async Task<T> ReachAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            return await work();
        }
        catch (Exception e) when (DescribeFailure(e) is { } message)
        {
            throw new MetadataStoreUnavailableException(message, e);
        }
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    public void Dispose() => DataSource.Dispose();
}
