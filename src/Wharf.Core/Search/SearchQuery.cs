using System.Text;

namespace Wharf.Core.Search;

/// <summary>
/// User search text, neutral of any search engine: the words (runs of letters and digits, lower-cased, at most
/// <see cref="MaxWords"/>) and the trimmed, lower-cased <see cref="Text"/>. Every word is to be found as a whole word or
/// as the start of a longer one; quotes, operators and column filters in the input are only separators. Each metadata
/// provider turns this into its own full-text dialect (FTS5 MATCH on SQLite, a tsquery on PostgreSQL), so no input can
/// make a provider's query invalid. <see cref="Text"/> ranks exact and prefix name matches first.
/// </summary>
public sealed record SearchQuery(string Text, IReadOnlyList<string> Words)
{
    /// <summary>Most words taken from one query; the rest is ignored.</summary>
    public const int MaxWords = 8;

    /// <summary>Longest query text considered.</summary>
    public const int MaxLength = 256;

    public bool IsEmpty => Words.Count == 0;

    public static SearchQuery Parse(string? text)
    {
        var trimmed = (text ?? "").Trim();
        if (trimmed.Length > MaxLength) trimmed = trimmed[..MaxLength];
        trimmed = trimmed.ToLowerInvariant();
        var words = new List<string>();
        foreach (var word in Tokenize(trimmed))
        {
            if (words.Count == MaxWords) break;
            if (!words.Contains(word)) words.Add(word);
        }
        return new SearchQuery(trimmed, words);
    }

    /// <summary>
    /// The words of a text as a query sees them: runs of letters and digits, lower-cased. A provider whose full-text
    /// engine splits text differently indexes documents through this, so documents and queries agree.
    /// </summary>
    public static IEnumerable<string> Tokenize(string? text)
    {
        if (string.IsNullOrEmpty(text)) yield break;
        var word = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune))
            {
                word.Append(Rune.ToLowerInvariant(rune).ToString());
                continue;
            }
            if (word.Length > 0) yield return word.ToString();
            word.Clear();
        }
        if (word.Length > 0) yield return word.ToString();
    }
}
