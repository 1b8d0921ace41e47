using Npgsql;
using Wharf.Core.Builds;

namespace Wharf.Data.PostgreSql;

/// <summary>Told about every build that reaches a final state, inside the transaction that stores it (see <see cref="PostgreSqlWebhookOutbox"/>).</summary>
public interface IPostgreSqlBuildJournal
{
    Task BuildFinishedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BuildRecord build, CancellationToken cancellationToken);
}
