using Wharf.Core.Search;

namespace Wharf.Data.Sqlite;

/// <summary>A neutral <see cref="SearchQuery"/> in FTS5's MATCH syntax.</summary>
internal static class SqliteSearchExpression
{
    /// <summary>
    /// Every word required, as a whole term or a prefix (<c>("w" OR "w"*)</c>), so a document holding the whole word
    /// scores both and ranks above one that only has a longer word starting with it. The words hold only letters and
    /// digits, so quoting them is enough to keep any input out of FTS5's syntax.
    /// </summary>
    public static string Match(SearchQuery query) => string.Join(" AND ", query.Words.Select(w => "(\"" + w + "\" OR \"" + w + "\"*)"));

    /// <summary>The same expression limited to the <c>name</c> column: the matches that can be exact or prefix name matches.</summary>
    public static string NameMatch(SearchQuery query) => "name : (" + Match(query) + ")";
}
