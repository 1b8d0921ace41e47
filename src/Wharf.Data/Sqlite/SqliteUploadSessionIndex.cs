using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Storage;

namespace Wharf.Data.Sqlite;

/// <summary>
/// <see cref="IUploadSessionIndex"/> on SQLite. An admission counts and inserts inside one <c>BEGIN IMMEDIATE</c>
/// transaction, which holds the database's write lock: no other writer, in this process or another, comes between.
/// </summary>
public sealed class SqliteUploadSessionIndex(SqliteConnectionFactory connections) : IUploadSessionIndex
{
    public Task<UploadAdmission> AdmitAsync(Guid id, UploadOpener opener, UploadSessionLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(opener);
        ArgumentNullException.ThrowIfNull(limits);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            var counts = await CountAsync(connection, transaction, opener, now - limits.IdleTimeout, cancellationToken);
            var admission = counts.Judge(opener, limits);
            if (admission != UploadAdmission.Admitted) return admission;
            var at = now.ToUnixTimeMilliseconds();
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO upload_sessions (id, user_name, address, started_at, used_at) VALUES (@id, @user, @address, @at, @at)",
                new { id = id.ToString("D"), user = opener.User, address = opener.Address, at }, transaction, cancellationToken: cancellationToken));
            return UploadAdmission.Admitted;
        }, cancellationToken);
    }

    public Task TouchAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            "UPDATE upload_sessions SET used_at = max(used_at, @at) WHERE id = @id",
            new { id = id.ToString("D"), at = now.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public Task<bool> RemoveAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM upload_sessions WHERE id = @id",
            new { id = id.ToString("D") }, transaction, cancellationToken: cancellationToken)) > 0, cancellationToken);

    public Task<int> RemoveIdleAsync(DateTimeOffset usedBefore, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM upload_sessions WHERE used_at < @before",
            new { before = usedBefore.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public async Task<UploadSessionCounts> CountOpenAsync(UploadOpener opener, DateTimeOffset usedSince, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(opener);
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await CountAsync(connection, null, opener, usedSince, cancellationToken);
    }

    private static async Task<UploadSessionCounts> CountAsync(SqliteConnection connection, SqliteTransaction? transaction, UploadOpener opener, DateTimeOffset usedSince, CancellationToken cancellationToken)
    {
        var since = usedSince.ToUnixTimeMilliseconds();
        var byUser = opener.User is null ? 0 : await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*) FROM upload_sessions WHERE user_name = @user AND used_at >= @since",
            new { user = opener.User, since }, transaction, cancellationToken: cancellationToken));
        var byAddress = opener.Address is null ? 0 : await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*) FROM upload_sessions WHERE address = @address AND used_at >= @since",
            new { address = opener.Address, since }, transaction, cancellationToken: cancellationToken));
        return new UploadSessionCounts(byUser, byAddress);
    }
}
