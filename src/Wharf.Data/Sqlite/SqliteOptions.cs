using Microsoft.Data.Sqlite;

namespace Wharf.Data.Sqlite;

/// <summary>Where the SQLite metadata database lives.</summary>
public sealed class SqliteOptions
{
    /// <summary>
    /// A Microsoft.Data.Sqlite connection string. Default: <c>Data Source=data/wharf.db</c>, with pooling on.
    /// The folder of the database file is created when missing.
    /// </summary>
    public string ConnectionString { get; set; } = BuildConnectionString(Path.Combine("data", "wharf.db"));

    /// <summary>Options for a database file at <paramref name="databasePath"/> (created when missing), pooled.</summary>
    public static SqliteOptions ForFile(string databasePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        return new SqliteOptions { ConnectionString = BuildConnectionString(databasePath) };
    }

    private static string BuildConnectionString(string databasePath)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
        };
        return builder.ToString();
    }
}
