namespace Wharf.Data.PostgreSql;

/// <summary>
/// PostgreSQL's text type cannot hold U+0000, which SQLite stores and which user input (a description, a label of a
/// pushed image, a build's output) may carry: such characters are replaced by U+FFFD before they are written, so the
/// input is stored instead of failing the request.
/// </summary>
internal static class PostgreSqlText
{
    public static string? Clean(string? text) => text is null || !text.Contains('\0') ? text : text.Replace('\0', '\uFFFD');
}
