using System.Data.Common;

namespace Wharf.Data.Sqlite;

/// <summary><see cref="Wharf.Core.Storage.ISharedFileStore"/> on SQLite: each chunk is one short turn of the writer gate.</summary>
public sealed class SqliteSharedFileStore(SqliteConnectionFactory connections, TimeProvider? timeProvider = null) : ChunkedSharedFileStore(timeProvider)
{
    protected override Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => work(connection, transaction), cancellationToken);

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await connections.OpenAsync(cancellationToken);
}
