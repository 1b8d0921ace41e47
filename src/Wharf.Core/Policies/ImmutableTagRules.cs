using System.Text.Json;
using System.Text.RegularExpressions;

namespace Wharf.Core.Policies;

/// <summary>
/// A repository's immutable tag patterns: regular expressions matched against the whole tag (<c>v\d+\.\d+\.\d+</c> matches
/// <c>v1.2.3</c>, not <c>v1.2.3-rc</c>). A matching tag may be pushed once; it is then neither moved nor deleted.
/// </summary>
public static class ImmutableTagRules
{
    public const int MaxPatterns = 32;
    public const int MaxPatternLength = 256;

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>Why the patterns can't be used, or null.</summary>
    public static string? Problem(IReadOnlyList<string?> patterns)
    {
        if (patterns.Count > MaxPatterns) return $"At most {MaxPatterns} patterns.";
        foreach (var pattern in patterns)
        {
            if (string.IsNullOrEmpty(pattern)) return "A pattern must not be empty.";
            if (pattern.Length > MaxPatternLength) return $"A pattern has at most {MaxPatternLength} characters.";
            try
            {
                _ = new Regex(Anchored(pattern), RegexOptions.CultureInvariant, MatchTimeout);
            }
            catch (ArgumentException e)
            {
                return $"'{pattern}' is not a regular expression: {e.Message}";
            }
        }
        return null;
    }

    /// <summary>The first pattern that <paramref name="tag"/> matches, or null (a pattern that times out counts as matching: refusing is the safe side).</summary>
    public static string? MatchingRule(IReadOnlyList<string> patterns, string tag)
    {
        foreach (var pattern in patterns)
        {
            try
            {
                if (Regex.IsMatch(tag, Anchored(pattern), RegexOptions.CultureInvariant, MatchTimeout)) return pattern;
            }
            catch (RegexMatchTimeoutException)
            {
                return pattern;
            }
        }
        return null;
    }

    /// <summary>The patterns as stored (a JSON array), and back; null or empty text is no pattern.</summary>
    public static string? ToStored(IReadOnlyList<string> patterns) => patterns.Count == 0 ? null : JsonSerializer.Serialize(new List<string>(patterns), PolicyJson.Default.ListString);

    public static IReadOnlyList<string> FromStored(string? stored) =>
        string.IsNullOrEmpty(stored) ? [] : JsonSerializer.Deserialize(stored, PolicyJson.Default.ListString) ?? [];

    private static string Anchored(string pattern) => $"^(?:{pattern})$";
}

[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
internal sealed partial class PolicyJson : System.Text.Json.Serialization.JsonSerializerContext;
