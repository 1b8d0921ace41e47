using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Wharf.Data.PostgreSql;
using Wharf.Data.Sqlite;

namespace Wharf.Data.StoreMigration;

/// <summary>
/// A blob the source's database lists; <paramref name="IsManifest"/> when a manifest has its digest (its bytes are a
/// row), <paramref name="IsDeleting"/> when garbage collection had claimed it (its file may be gone already).
/// </summary>
public sealed record SourceBlob(string Digest, long Size, bool IsManifest, bool IsDeleting);

/// <summary>How far the copy of one table got: rows copied so far by all runs.</summary>
public sealed record TableCopyProgress(string Table, long Rows, bool Done);

/// <summary>
/// Copies the rows of a SQLite metadata database (opened read-only) into a PostgreSQL database migrated to the same
/// version, table by table in <see cref="StoreMigrationTables.Copied"/> order. Each batch of rows (at most 1,000 rows or
/// 16 MiB) is one transaction with its progress (<see cref="StoreMigrationProgress"/>): a run that is killed starts the
/// next one after the last committed batch. Values are converted to the target column's type (SQLite's integers to
/// booleans, text to uuids, …); columns the PostgreSQL stores derive (search words) are computed as the stores do.
/// </summary>
public sealed class SqliteToPostgreSqlTables(string sqlitePath, PostgreSqlConnections target, StoreMigrationProgress progress)
{
    private const int MaxBatchRows = 1000;
    private const long MaxBatchBytes = 16L * 1024 * 1024;

    private const string BlobColumns = "SELECT b.digest, b.size, EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest), b.state FROM blobs b";

    private readonly string _source = new SqliteConnectionStringBuilder
    {
        DataSource = sqlitePath,
        Mode = SqliteOpenMode.ReadOnly,
        Pooling = false,
    }.ToString();

    private sealed record TargetColumn(string Name, string Type, bool Generated, bool Identity);

    private sealed record TablePlan(string Table, IReadOnlyList<string> SourceColumns, IReadOnlyList<string> Key, IReadOnlyList<TargetColumn> Written);

    /// <summary>The source's migrations this version of Wharf has and the source has not applied (copy only from a current source).</summary>
    public async Task<IReadOnlyList<string>> PendingSourceMigrationsAsync(CancellationToken cancellationToken)
    {
        await using var source = await OpenSourceAsync(cancellationToken);
        var hasTable = await source.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", cancellationToken: cancellationToken));
        var applied = hasTable == 0
            ? []
            : (await source.QueryAsync<long>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet();
        return SqliteMigrator.LoadMigrations().Where(m => !applied.Contains(m.Version)).Select(m => m.Name).ToList();
    }

    /// <summary>
    /// Every reason the copy cannot be made faithfully: a table on either side that <see cref="StoreMigrationTables"/>
    /// does not know, a column of the source the target lacks, a target column nothing fills, a type it cannot convert.
    /// </summary>
    public async Task<IReadOnlyList<string>> SchemaProblemsAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        await using var source = await OpenSourceAsync(cancellationToken);
        foreach (var table in await SourceTablesAsync(source, cancellationToken))
        {
            if (!StoreMigrationTables.IsKnown(table)) problems.Add($"The source has a table migrate-store does not know: {table}. This version of Wharf cannot copy it.");
        }
        await using var connection = await target.OpenAsync(cancellationToken);
        foreach (var table in await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'", cancellationToken: cancellationToken)))
        {
            if (!StoreMigrationTables.IsKnown(table)) problems.Add($"The target has a table migrate-store does not know: {table}.");
        }
        foreach (var table in StoreMigrationTables.Copied)
        {
            try
            {
                await PlanAsync(source, connection, table, cancellationToken);
            }
            catch (StoreMigrationException e)
            {
                problems.Add(e.Message);
            }
        }
        return problems;
    }

    /// <summary>The first copied table that holds rows in the target, or null when the target is empty.</summary>
    public async Task<string?> FirstTargetTableWithRowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await target.OpenAsync(cancellationToken);
        foreach (var table in StoreMigrationTables.Copied)
        {
            if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition($"SELECT EXISTS (SELECT 1 FROM {Quote(table)})", cancellationToken: cancellationToken))) return table;
        }
        return null;
    }

    /// <summary>Copies every table not yet done, reporting after each batch.</summary>
    public async Task CopyAsync(Action<TableCopyProgress> report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        var items = await progress.ReadAsync(cancellationToken);
        await using var source = await OpenSourceAsync(cancellationToken);
        foreach (var table in StoreMigrationTables.Copied)
        {
            var item = StoreMigrationProgress.Table(table);
            var state = items.GetValueOrDefault(item);
            var (key, rows) = ParsePosition(state?.Position);
            if (state?.Done == true)
            {
                report(new TableCopyProgress(table, rows, true));
                continue;
            }
            TablePlan plan;
            await using (var connection = await target.OpenAsync(cancellationToken))
            {
                plan = await PlanAsync(source, connection, table, cancellationToken);
            }
            while (true)
            {
                var batch = await ReadBatchAsync(source, plan, key, cancellationToken);
                await using var connection = await target.OpenAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                if (batch.Count == 0)
                {
                    await ResetIdentitiesAsync(connection, transaction, plan, cancellationToken);
                    await progress.SetAsync(connection, transaction, item, FormatPosition(key, rows), done: true, cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    report(new TableCopyProgress(table, rows, true));
                    break;
                }
                await WriteBatchAsync(connection, plan, batch, cancellationToken);
                rows += batch.Count;
                var last = batch[^1];
                key = plan.Key.Select(k => last[IndexOf(plan.SourceColumns, k)]).ToArray();
                await progress.SetAsync(connection, transaction, item, FormatPosition(key, rows), done: false, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                report(new TableCopyProgress(table, rows, false));
            }
        }
    }

    /// <summary>
    /// Up to <paramref name="limit"/> blobs the source database lists, in digest order after <paramref name="after"/>, each
    /// with whether it is also a manifest (whose bytes are in the manifests table, not necessarily in the blob folder).
    /// </summary>
    public async Task<IReadOnlyList<SourceBlob>> SourceBlobsAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        await using var source = await OpenSourceAsync(cancellationToken);
        return (await source.QueryAsync<(string Digest, long Size, long Manifest, string State)>(new CommandDefinition(
            $"{BlobColumns} WHERE @after IS NULL OR b.digest > @after ORDER BY b.digest LIMIT @limit",
            new { after, limit }, cancellationToken: cancellationToken))).Select(b => new SourceBlob(b.Digest, b.Size, b.Manifest != 0, b.State == "deleting")).ToList();
    }

    /// <summary>How many blobs the source lists (up to and including <paramref name="upTo"/> when given).</summary>
    public async Task<long> SourceBlobCountAsync(string? upTo, CancellationToken cancellationToken)
    {
        await using var source = await OpenSourceAsync(cancellationToken);
        return await source.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM blobs WHERE @upTo IS NULL OR digest <= @upTo", new { upTo }, cancellationToken: cancellationToken));
    }

    /// <summary>Whether the source database holds a shared file at <paramref name="path"/>.</summary>
    public async Task<bool> SourceHasSharedFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var source = await OpenSourceAsync(cancellationToken);
        return await source.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM shared_files WHERE path = @path", new { path }, cancellationToken: cancellationToken)) > 0;
    }

    /// <summary>One blob the source lists, or null when it lists no such blob.</summary>
    public async Task<SourceBlob?> SourceBlobAsync(string digest, CancellationToken cancellationToken)
    {
        await using var source = await OpenSourceAsync(cancellationToken);
        var found = (await source.QueryAsync<(string Digest, long Size, long Manifest, string State)>(new CommandDefinition(
            $"{BlobColumns} WHERE b.digest = @digest", new { digest }, cancellationToken: cancellationToken))).ToList();
        return found.Count == 0 ? null : new SourceBlob(found[0].Digest, found[0].Size, found[0].Manifest != 0, found[0].State == "deleting");
    }

    private async Task<SqliteConnection> OpenSourceAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_source);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static async Task<IReadOnlyList<string>> SourceTablesAsync(SqliteConnection source, CancellationToken cancellationToken) =>
        (await source.QueryAsync<string>(new CommandDefinition(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", cancellationToken: cancellationToken))).ToList();

    private static async Task<TablePlan> PlanAsync(SqliteConnection source, NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        // hidden: 0 a column, 2 or 3 a generated one (computed again by the target); pk: the key's order, 0 when not in it.
        var sourceColumns = (await source.QueryAsync<(string Name, long Hidden, long Pk)>(new CommandDefinition(
            "SELECT name, hidden, pk FROM pragma_table_xinfo(@table) ORDER BY cid", new { table }, cancellationToken: cancellationToken))).ToList();
        if (sourceColumns.Count == 0) throw new StoreMigrationException($"The source has no table {table}: is it a Wharf database?");
        var copied = sourceColumns.Where(c => c.Hidden == 0).Select(c => c.Name).ToList();
        var key = sourceColumns.Where(c => c.Pk > 0).OrderBy(c => c.Pk).Select(c => c.Name).ToList();
        if (key.Count == 0) throw new StoreMigrationException($"The source table {table} has no primary key to copy it in order by.");

        var targetColumns = (await connection.QueryAsync<(string Name, string Type, string Generated, string Identity)>(new CommandDefinition(
            """
            SELECT column_name, data_type, is_generated, is_identity FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = @table ORDER BY ordinal_position
            """, new { table }, cancellationToken: cancellationToken)))
            .Select(c => new TargetColumn(c.Name, c.Type, c.Generated == "ALWAYS", c.Identity == "YES")).ToList();
        if (targetColumns.Count == 0) throw new StoreMigrationException($"The target has no table {table}: was it migrated by this version of Wharf?");
        var byName = targetColumns.ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var column in copied)
        {
            if (!byName.TryGetValue(column, out var found) || found.Generated)
                throw new StoreMigrationException($"Column {table}.{column} of the source has no place in the target.");
            if (TypeOf(found.Type) is null)
                throw new StoreMigrationException($"Column {table}.{column} has type {found.Type} in the target, which migrate-store cannot fill.");
        }
        foreach (var column in targetColumns.Where(c => !c.Generated && !copied.Contains(c.Name, StringComparer.Ordinal)))
        {
            if (!StoreMigrationTables.Derived.ContainsKey((table, column.Name)))
                throw new StoreMigrationException($"Column {table}.{column.Name} of the target has nothing in the source to fill it from.");
        }
        var written = targetColumns.Where(c => !c.Generated).ToList();
        return new TablePlan(table, copied, key, written);
    }

    private static async Task<List<object?[]>> ReadBatchAsync(SqliteConnection source, TablePlan plan, object?[]? after, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand();
        var keyList = string.Join(", ", plan.Key.Select(Quote));
        var where = "";
        if (after is not null)
        {
            where = $" WHERE ({keyList}) > ({string.Join(", ", after.Select((_, i) => "@k" + i.ToString(CultureInfo.InvariantCulture)))})";
            for (var i = 0; i < after.Length; i++) command.Parameters.AddWithValue("@k" + i.ToString(CultureInfo.InvariantCulture), after[i] ?? DBNull.Value);
        }
        command.CommandText = $"SELECT {string.Join(", ", plan.SourceColumns.Select(Quote))} FROM {Quote(plan.Table)}{where} ORDER BY {keyList} LIMIT {MaxBatchRows}";
        var rows = new List<object?[]>();
        long bytes = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new object?[plan.SourceColumns.Count];
            for (var i = 0; i < row.Length; i++)
            {
                var value = reader.IsDBNull(i) ? null : reader.GetValue(i);
                row[i] = value;
                bytes += value switch { byte[] b => b.Length, string s => s.Length * 2L, _ => 8 };
            }
            rows.Add(row);
            if (bytes >= MaxBatchBytes) break;
        }
        return rows;
    }

    private static async Task WriteBatchAsync(NpgsqlConnection connection, TablePlan plan, List<object?[]> batch, CancellationToken cancellationToken)
    {
        var copy = $"COPY {Quote(plan.Table)} ({string.Join(", ", plan.Written.Select(c => Quote(c.Name)))}) FROM STDIN (FORMAT BINARY)";
        await using var importer = await connection.BeginBinaryImportAsync(copy, cancellationToken);
        foreach (var row in batch)
        {
            object? Source(string column) => IndexOf(plan.SourceColumns, column) is var i and >= 0 ? row[i] : null;
            await importer.StartRowAsync(cancellationToken);
            foreach (var column in plan.Written)
            {
                var value = IndexOf(plan.SourceColumns, column.Name) >= 0
                    ? Source(column.Name)
                    : StoreMigrationTables.Derived[(plan.Table, column.Name)](Source);
                var type = TypeOf(column.Type)!.Value;
                if (value is null) await importer.WriteNullAsync(cancellationToken);
                else await importer.WriteAsync(Convert(value, type, plan.Table, column.Name), type, cancellationToken);
            }
        }
        await importer.CompleteAsync(cancellationToken);
    }

    /// <summary>Identity columns were written with their ids: their sequences continue after the highest.</summary>
    private static async Task ResetIdentitiesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, TablePlan plan, CancellationToken cancellationToken)
    {
        foreach (var column in plan.Written.Where(c => c.Identity))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                $"SELECT setval(pg_get_serial_sequence(@table, @column), (SELECT COALESCE(max({Quote(column.Name)}), 0) + 1 FROM {Quote(plan.Table)}), false)",
                new { table = plan.Table, column = column.Name }, transaction, cancellationToken: cancellationToken));
        }
    }

    private static NpgsqlDbType? TypeOf(string type) => type switch
    {
        "bigint" => NpgsqlDbType.Bigint,
        "integer" => NpgsqlDbType.Integer,
        "smallint" => NpgsqlDbType.Smallint,
        "boolean" => NpgsqlDbType.Boolean,
        "uuid" => NpgsqlDbType.Uuid,
        "bytea" => NpgsqlDbType.Bytea,
        "text" => NpgsqlDbType.Text,
        "double precision" => NpgsqlDbType.Double,
        _ => null,
    };

    private static object Convert(object value, NpgsqlDbType type, string table, string column)
    {
        try
        {
            return type switch
            {
                NpgsqlDbType.Bigint => System.Convert.ToInt64(value, CultureInfo.InvariantCulture),
                NpgsqlDbType.Integer => System.Convert.ToInt32(value, CultureInfo.InvariantCulture),
                NpgsqlDbType.Smallint => System.Convert.ToInt16(value, CultureInfo.InvariantCulture),
                NpgsqlDbType.Boolean => System.Convert.ToInt64(value, CultureInfo.InvariantCulture) != 0,
                NpgsqlDbType.Uuid => value is Guid g ? g : Guid.Parse(System.Convert.ToString(value, CultureInfo.InvariantCulture)!, CultureInfo.InvariantCulture),
                NpgsqlDbType.Double => System.Convert.ToDouble(value, CultureInfo.InvariantCulture),
                NpgsqlDbType.Bytea => value as byte[] ?? System.Text.Encoding.UTF8.GetBytes(System.Convert.ToString(value, CultureInfo.InvariantCulture)!),
                _ => PostgreSqlText.Clean(value as string ?? System.Convert.ToString(value, CultureInfo.InvariantCulture))!,
            };
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException)
        {
            throw new StoreMigrationException($"A value of {table}.{column} ({value}) cannot be stored as {type} in the target: {e.Message}");
        }
    }

    private static int IndexOf(IReadOnlyList<string> columns, string column)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], column, StringComparison.Ordinal)) return i;
        }
        return -1;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string FormatPosition(object?[]? key, long rows)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("rows", rows);
            if (key is not null)
            {
                writer.WriteStartArray("key");
                foreach (var value in key)
                {
                    switch (value)
                    {
                        case null: writer.WriteNullValue(); break;
                        case long l: writer.WriteNumberValue(l); break;
                        case double d: writer.WriteNumberValue(d); break;
                        case byte[] b: writer.WriteBase64StringValue(b); break;
                        default: writer.WriteStringValue(System.Convert.ToString(value, CultureInfo.InvariantCulture)); break;
                    }
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static (object?[]? Key, long Rows) ParsePosition(string? position)
    {
        if (string.IsNullOrEmpty(position)) return (null, 0);
        using var document = JsonDocument.Parse(position);
        var rows = document.RootElement.GetProperty("rows").GetInt64();
        if (!document.RootElement.TryGetProperty("key", out var key)) return (null, rows);
        return (key.EnumerateArray().Select(v => v.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.Number => v.TryGetInt64(out var l) ? l : (object)v.GetDouble(),
            _ => v.GetString(),
        }).ToArray(), rows);
    }
}

/// <summary>The copy cannot be made: the message says why, in words an operator can act on.</summary>
public sealed class StoreMigrationException(string message) : Exception(message);
