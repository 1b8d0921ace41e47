namespace Wharf.Data;

/// <summary>
/// The retention store's statements, which read the same on SQLite and PostgreSQL: the rules are columns of the
/// repository, and a tag is deleted only while it still names the image, push time and last pull it was judged by.
/// </summary>
internal static class RetentionSql
{
    private const string HasRules = "(retention_keep_last IS NOT NULL OR retention_keep_pulled_days IS NOT NULL OR retention_keep_matching IS NOT NULL)";

    private const string Columns = """
        name AS Name, retention_keep_last AS KeepLast, retention_keep_pulled_days AS KeepPulledDays,
        retention_keep_matching AS KeepMatching, immutable_tags AS ImmutableTags
        """;

    public const string Get = $"SELECT {Columns} FROM repositories WHERE name = @repository";

    public const string Set = """
        UPDATE repositories SET retention_keep_last = @KeepLast, retention_keep_pulled_days = @KeepPulledWithinDays,
            retention_keep_matching = @KeepTagsMatching
        WHERE name = @repository
        """;

    public const string List = $"SELECT {Columns} FROM repositories WHERE {HasRules} AND name > @after ORDER BY name LIMIT @limit";

    public const string ListTags = """
        SELECT t.name AS Name, m.digest AS Digest, t.updated_at AS UpdatedAt, t.last_pulled_at AS LastPulledAt
        FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id
        WHERE r.name = @repository
        """;

    public const string RepositoryId = "SELECT id FROM repositories WHERE name = @repository";

    public const string DeleteTagIfUnchanged = """
        DELETE FROM tags
        WHERE repository_id = (SELECT id FROM repositories WHERE name = @repository) AND name = @tag
          AND manifest_id = (SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = @repository AND m.digest = @digest)
          AND updated_at = @pushedAt AND COALESCE(last_pulled_at, 0) <= @pulledAt
        """;

    public static object DeleteTagArguments(string repository, Wharf.Core.Retention.RetainedTag tag) => new
    {
        repository, tag = tag.Tag, digest = tag.Digest.ToString(), pushedAt = tag.PushedAt.ToUnixTimeMilliseconds(),
        pulledAt = tag.LastPulledAt?.ToUnixTimeMilliseconds() ?? 0,
    };
}
