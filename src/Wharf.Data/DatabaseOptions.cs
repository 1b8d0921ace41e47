namespace Wharf.Data;

/// <summary>Section <c>Wharf:Database</c>: where metadata lives (repositories, manifests, accounts, builds and the queue, audit).</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Wharf:Database";

    public const string Sqlite = "Sqlite";

    public const string PostgreSql = "PostgreSql";

    /// <summary>The values <see cref="Type"/> accepts.</summary>
    public static readonly string[] Types = [Sqlite];

    /// <summary>The metadata store provider: <c>Sqlite</c> (default: one file, one node) or <c>PostgreSql</c> (scale-out).</summary>
    public string Type { get; set; } = Sqlite;

    /// <summary>SQLite: the database file. Default: <c>wharf.db</c> in the data folder.</summary>
    public string? Path { get; set; }

    /// <summary>PostgreSQL: an Npgsql connection string (<c>Host=…;Port=…;Username=…;Password=…;Database=…</c>). Required for <c>PostgreSql</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Whether <c>wharf serve</c> and <c>wharf worker</c> apply pending schema migrations when they start. Default: true
    /// for SQLite (the embedded default), false for PostgreSQL, where <c>wharf migrate</c> runs them once per upgrade
    /// and nodes only check that the schema is current (a node whose schema is behind stops with a message saying so).
    /// </summary>
    public bool? MigrateOnStart { get; set; }

    /// <summary>
    /// Above this many full-text matches a search is "broad" (a word found in nearly every repository): results are then
    /// ordered by exact and prefix name matches first and by pulls within each tier, instead of by relevance, which would
    /// have to score every match and means little for a word that is everywhere. Default 5,000.
    /// </summary>
    public int RelevanceRankedMatches { get; set; } = 5_000;

    public bool IsPostgreSql => string.Equals(Type, PostgreSql, StringComparison.OrdinalIgnoreCase);

    /// <summary><see cref="MigrateOnStart"/> with its provider default.</summary>
    public bool ShouldMigrateOnStart => MigrateOnStart ?? !IsPostgreSql;

    /// <summary>Every problem with the values, in words an operator can act on.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Types.Contains(Type, StringComparer.OrdinalIgnoreCase))
        {
            yield return $"Wharf:Database:Type '{Type}' is not known; allowed values: {string.Join(", ", Types)}.";
            yield break;
        }
        if (RelevanceRankedMatches < 0) yield return "Wharf:Database:RelevanceRankedMatches must not be negative.";
        if (IsPostgreSql && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return "Wharf:Database:ConnectionString is required when Wharf:Database:Type is PostgreSql (for example Host=db;Port=5432;Username=wharf;Password=…;Database=wharf).";
        }
    }
}
