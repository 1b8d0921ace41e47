using Microsoft.Data.Sqlite;
using Wharf.Core.Events;

namespace Wharf.Data.Sqlite;

/// <summary>
/// Writes a <see cref="RegistryChange"/> into the metadata database inside the very transaction that makes the change:
/// the place for a durable outbox (webhook deliveries, replication), which then holds a row for every committed change
/// and none for a change that rolled back. Every SQLite store write that changes the registry calls each registered
/// journal (through <see cref="SqliteConnectionFactory.JournalAsync"/>) just before it commits; a journal that throws
/// rolls the change back. Register implementations as singletons before the stores are first resolved.
/// </summary>
public interface ISqliteChangeJournal
{
    Task AppendAsync(SqliteConnection connection, SqliteTransaction transaction, RegistryChange change, CancellationToken cancellationToken);
}
