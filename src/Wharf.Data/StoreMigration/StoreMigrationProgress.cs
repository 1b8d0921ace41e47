using Dapper;
using Npgsql;
using Wharf.Data.PostgreSql;

namespace Wharf.Data.StoreMigration;

/// <summary>One item of <c>wharf migrate-store</c>'s progress: where it got to, and whether it is done.</summary>
public sealed record StoreMigrationItem(string? Position, bool Done);

/// <summary>
/// <c>wharf migrate-store</c>'s progress in the PostgreSQL database it fills (table <c>store_migration</c>, migration
/// 0071): a run that is killed starts again where the last one got to. Rows of a table are written in the same
/// transaction as their progress, so no row is copied twice nor left out.
/// </summary>
public sealed class StoreMigrationProgress(PostgreSqlConnections target, TimeProvider? time = null)
{
    /// <summary>The item that names the source; whoever wrote it started this database.</summary>
    public const string Source = "source";

    /// <summary>The blobs, in digest order: the position is the last digest copied.</summary>
    public const string Blobs = "blobs";

    /// <summary>Written once everything is copied.</summary>
    public const string Complete = "complete";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The item of a table's rows.</summary>
    public static string Table(string name) => "table:" + name;

    /// <summary>The item of a blob that could not be copied (missing or corrupt in the source), tried again by the next run.</summary>
    public static string FailedBlob(string digest) => "blob:" + digest;

    /// <summary>Every item recorded so far.</summary>
    public async Task<IReadOnlyDictionary<string, StoreMigrationItem>> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await target.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Item, string? Position, bool Done)>(new CommandDefinition(
            "SELECT item, position, done FROM store_migration", cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Item, r => new StoreMigrationItem(r.Position, r.Done), StringComparer.Ordinal);
    }

    /// <summary>Records an item in a transaction of its own.</summary>
    public async Task SetAsync(string item, string? position, bool done, CancellationToken cancellationToken)
    {
        await using var connection = await target.OpenAsync(cancellationToken);
        await SetAsync(connection, null, item, position, done, cancellationToken);
    }

    /// <summary>Records an item inside <paramref name="transaction"/> (with the rows it stands for).</summary>
    internal Task SetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string item, string? position, bool done, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO store_migration (item, position, done, updated_at) VALUES (@item, @position, @done, @now)
            ON CONFLICT (item) DO UPDATE SET position = excluded.position, done = excluded.done, updated_at = excluded.updated_at
            """,
            new { item, position, done, now = _time.GetUtcNow().ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken));

    /// <summary>Forgets an item (a failed blob copied after all).</summary>
    public async Task RemoveAsync(string item, CancellationToken cancellationToken)
    {
        await using var connection = await target.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM store_migration WHERE item = @item", new { item }, cancellationToken: cancellationToken));
    }
}
