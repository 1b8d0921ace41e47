using Npgsql;
using Wharf.Core.Events;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// Writes a <see cref="RegistryChange"/> into the metadata database inside the very transaction that makes the change,
/// as <see cref="Sqlite.ISqliteChangeJournal"/> does for SQLite: a durable outbox then holds a row for every committed
/// change and none for a change that rolled back. Every PostgreSQL store write that changes the registry calls each
/// registered journal (through <see cref="PostgreSqlConnections.JournalAsync"/>) just before it commits; a journal that
/// throws rolls the change back. A write retried after a serialization failure journals again in its new transaction.
/// </summary>
public interface IPostgreSqlChangeJournal
{
    Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, RegistryChange change, CancellationToken cancellationToken);
}
