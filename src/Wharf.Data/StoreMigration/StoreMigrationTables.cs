namespace Wharf.Data.StoreMigration;

/// <summary>
/// What <c>wharf migrate-store</c> does with every table the migrations create: the tables it copies, in an order that
/// satisfies their foreign keys, and the ones it leaves out, each with the reason. A table in neither list stops the
/// copy before it starts (on the source or on the target), so a table a future migration adds is never skipped
/// silently: its migration must add it here too (a test checks that the lists match the migrations of both providers).
/// </summary>
public static class StoreMigrationTables
{
    /// <summary>The tables copied row by row, parents before children.</summary>
    public static IReadOnlyList<string> Copied { get; } =
    [
        "repositories", "blobs", "repository_blobs", "manifests", "manifest_references", "tags", "manifest_details",
        "cached_repositories",
        "namespaces", "users", "organizations", "organization_members", "access_tokens", "refresh_tokens", "audit_events",
        "builds", "build_logs", "registry_credentials",
        "webhooks", "webhook_deliveries", "webhook_attempts",
        "gc_runs", "namespace_quotas",
        // Chunks before the files that point at them: a file is visible only once whole.
        "shared_file_chunks", "shared_files",
    ];

    /// <summary>The tables left out, and why.</summary>
    public static IReadOnlyDictionary<string, string> NotCopied { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["schema_migrations"] = "the target is migrated by this version of Wharf itself",
        ["store_migration"] = "migrate-store's own progress",
        ["upload_sessions"] = "uploads in progress keep their bytes in the source's folder: clients start them again",
        // SQLite's full-text index and its shadow tables: PostgreSQL computes its own search document from the rows.
        ["repository_search"] = "SQLite's search index (PostgreSQL builds its own)",
        ["repository_search_data"] = "SQLite's search index",
        ["repository_search_idx"] = "SQLite's search index",
        ["repository_search_content"] = "SQLite's search index",
        ["repository_search_docsize"] = "SQLite's search index",
        ["repository_search_config"] = "SQLite's search index",
    };

    /// <summary>Columns of the target that the source does not have, computed from the source row as the PostgreSQL stores write them.</summary>
    internal static IReadOnlyDictionary<(string Table, string Column), Func<Func<string, object?>, object?>> Derived { get; } =
        new Dictionary<(string, string), Func<Func<string, object?>, object?>>
        {
            [("repositories", "description_words")] = row => StoredText.SearchWords(row("description") as string),
            [("repositories", "label_words")] = row => StoredText.SearchWords(row("labels") as string),
        };

    /// <summary>True when the table is in either list.</summary>
    public static bool IsKnown(string table) => Copied.Contains(table, StringComparer.Ordinal) || NotCopied.ContainsKey(table);
}
