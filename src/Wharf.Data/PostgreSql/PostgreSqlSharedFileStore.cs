using System.Data.Common;

namespace Wharf.Data.PostgreSql;

/// <summary><see cref="Wharf.Core.Storage.ISharedFileStore"/> on PostgreSQL (chunks are <c>bytea</c>).</summary>
public sealed class PostgreSqlSharedFileStore(PostgreSqlConnections connections, TimeProvider? timeProvider = null) : ChunkedSharedFileStore(timeProvider)
{
    protected override Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => work(connection, transaction), cancellationToken);

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await connections.OpenAsync(cancellationToken);
}
