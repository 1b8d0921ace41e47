using System.Text;

namespace Wharf.Core.Search;

/// <summary>
/// User search text turned into something safe for a full-text engine: the words (runs of letters and digits,
/// lower-cased, as FTS5's unicode61 tokenizer splits text) and an FTS5 MATCH expression that asks for every word
/// as a whole term or a prefix. Quotes, operators and column filters in the input are just separators, so no
/// input can make the expression invalid. <see cref="Text"/> (trimmed, lower-cased) ranks exact and prefix name matches first.
/// </summary>
public sealed record SearchQuery(string Text, IReadOnlyList<string> Words)
{
    /// <summary>Most words taken from one query; the rest is ignored.</summary>
    public const int MaxWords = 8;

    /// <summary>Longest query text considered.</summary>
    public const int MaxLength = 256;

    public bool IsEmpty => Words.Count == 0;

    /// <summary>
    /// The FTS5 MATCH expression: every word required, as a whole term or a prefix (<c>("w" OR "w"*)</c>), so a
    /// document holding the whole word scores both and ranks above one that only has a longer word starting with it.
    /// </summary>
    public string MatchExpression => string.Join(" AND ", Words.Select(w => "(\"" + w + "\" OR \"" + w + "\"*)"));

    /// <summary>The same expression limited to the <c>name</c> column: the matches that can be exact or prefix name matches.</summary>
    public string NameMatchExpression => "name : (" + MatchExpression + ")";

    public static SearchQuery Parse(string? text)
    {
        var trimmed = (text ?? "").Trim();
        if (trimmed.Length > MaxLength) trimmed = trimmed[..MaxLength];
        trimmed = trimmed.ToLowerInvariant();
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (var rune in trimmed.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune))
            {
                word.Append(rune.ToString());
                continue;
            }
            Flush();
        }
        Flush();
        return new SearchQuery(trimmed, words);

        void Flush()
        {
            if (word.Length > 0 && words.Count < MaxWords && !words.Contains(word.ToString())) words.Add(word.ToString());
            word.Clear();
        }
    }
}
