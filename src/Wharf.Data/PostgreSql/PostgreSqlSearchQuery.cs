using Wharf.Core.Search;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// A neutral <see cref="SearchQuery"/> as PostgreSQL <c>tsquery</c> text (parsed with <c>to_tsquery('simple', …)</c>).
/// The words hold only letters and digits, none of tsquery's operators or quotes, so no input can change its meaning.
/// </summary>
internal static class PostgreSqlSearchQuery
{
    /// <summary>Every word required, each as a whole word or a prefix: <c>w1:* &amp; w2:*</c>. What matches.</summary>
    public static string Match(SearchQuery query) => string.Join(" & ", query.Words.Select(w => w + ":*"));

    /// <summary>The same, limited to the name and namespace (weights A and B): the candidates for exact and prefix name matches.</summary>
    public static string NameMatch(SearchQuery query) => string.Join(" & ", query.Words.Select(w => w + ":*AB"));

    /// <summary>Any word as a prefix (<c>w1:* | w2:*</c>): relevance counts each word found.</summary>
    public static string AnyPrefix(SearchQuery query) => string.Join(" | ", query.Words.Select(w => w + ":*"));

    /// <summary>Any word whole (<c>w1 | w2</c>): relevance counts whole words above prefixes.</summary>
    public static string AnyWhole(SearchQuery query) => string.Join(" | ", query.Words);
}
