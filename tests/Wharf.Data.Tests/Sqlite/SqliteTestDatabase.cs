using Microsoft.Data.Sqlite;
using Wharf.Data.Sqlite;

namespace Wharf.Data.Tests.Sqlite;

/// <summary>A SQLite database file in its own temp folder, removed on dispose.</summary>
public sealed class SqliteTestDatabase : IAsyncDisposable
{
    public SqliteTestDatabase(IEnumerable<ISqliteChangeJournal>? journals = null)
    {
        Folder = Path.Combine(Path.GetTempPath(), "wharf-data-tests", Guid.NewGuid().ToString("n"));
        // The factory creates the folder: a nested path checks that too.
        DatabasePath = Path.Combine(Folder, "meta", "wharf.db");
        Connections = new SqliteConnectionFactory(SqliteOptions.ForFile(DatabasePath), journals);
    }

    public string Folder { get; }

    public string DatabasePath { get; }

    public SqliteConnectionFactory Connections { get; }

    public ValueTask DisposeAsync()
    {
        using (var connection = new SqliteConnection(Connections.ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
        Connections.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
        return ValueTask.CompletedTask;
    }
}
