using Dapper;
using Npgsql;
using Wharf.Core.Storage;
using static Wharf.Data.PostgreSql.PostgreSqlText;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="IUploadSessionIndex"/> on PostgreSQL. Writers run in parallel on several nodes, so an admission first
/// takes a transaction-scoped advisory lock per counted key (the user, the address), in one order, and only then
/// counts and inserts: two nodes admitting for the same user queue on the lock instead of both seeing room for one.
/// </summary>
public sealed class PostgreSqlUploadSessionIndex(PostgreSqlConnections connections) : IUploadSessionIndex
{
    public Task<UploadAdmission> AdmitAsync(Guid id, UploadOpener opener, UploadSessionLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(opener);
        ArgumentNullException.ThrowIfNull(limits);
        var user = Clean(opener.User);
        var address = Clean(opener.Address);
        var cleaned = new UploadOpener(user, address);
        var keys = new List<string>(2);
        if (user is not null && limits.PerUser > 0) keys.Add("wharf.upload-sessions.user:" + user);
        if (address is not null && limits.PerAddress > 0) keys.Add("wharf.upload-sessions.address:" + address);
        return connections.WriteAsync(async (connection, transaction) =>
        {
            if (keys.Count > 0)
            {
                // Sorted by the lock's own number, so every transaction takes its locks in the same order (no deadlock).
                await connection.ExecuteAsync(new CommandDefinition(
                    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(x, 0) AS k FROM unnest(@keys) AS x ORDER BY 1) AS locks",
                    new { keys = keys.ToArray() }, transaction, cancellationToken: cancellationToken));
            }
            var counts = await CountAsync(connection, transaction, cleaned, now - limits.IdleTimeout, cancellationToken);
            var admission = counts.Judge(cleaned, limits);
            if (admission != UploadAdmission.Admitted) return admission;
            var at = now.ToUnixTimeMilliseconds();
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO upload_sessions (id, user_name, address, started_at, used_at) VALUES (@id, @user, @address, @at, @at)",
                new { id, user, address, at }, transaction, cancellationToken: cancellationToken));
            return UploadAdmission.Admitted;
        }, cancellationToken);
    }

    public Task TouchAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            "UPDATE upload_sessions SET used_at = greatest(used_at, @at) WHERE id = @id",
            new { id, at = now.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public Task<bool> RemoveAsync(Guid id, CancellationToken cancellationToken) =>
        connections.WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM upload_sessions WHERE id = @id",
            new { id }, transaction, cancellationToken: cancellationToken)) > 0, cancellationToken);

    public Task<int> RemoveIdleAsync(DateTimeOffset usedBefore, CancellationToken cancellationToken) =>
        connections.WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM upload_sessions WHERE used_at < @before",
            new { before = usedBefore.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken)), cancellationToken);

    public async Task<UploadSessionCounts> CountOpenAsync(UploadOpener opener, DateTimeOffset usedSince, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(opener);
        await using var connection = await connections.OpenAsync(cancellationToken);
        var cleaned = new UploadOpener(Clean(opener.User), Clean(opener.Address));
        return await CountAsync(connection, null, cleaned, usedSince, cancellationToken);
    }

    private static async Task<UploadSessionCounts> CountAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, UploadOpener opener, DateTimeOffset usedSince, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleAsync<(long ByUser, long ByAddress)>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM upload_sessions WHERE user_name = @user AND used_at >= @since),
                   (SELECT count(*) FROM upload_sessions WHERE address = @address AND used_at >= @since)
            """,
            new { user = opener.User, address = opener.Address, since = usedSince.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken));
        return new UploadSessionCounts((int)row.ByUser, (int)row.ByAddress);
    }
}
