using System.Text;

namespace Wharf.Core.Builds.Dockerfiles;

/// <summary>
/// Docker's word processing for instruction arguments: words split at unquoted white space; single quotes literal;
/// double quotes and the escape character as Docker's lexer reads them; variables <c>$NAME</c>, <c>${NAME}</c>,
/// <c>${NAME:-word}</c>, <c>${NAME:+word}</c>, <c>${NAME-word}</c>, <c>${NAME+word}</c> substituted (an unset one is
/// empty). Other forms (BuildKit's <c>${NAME#…}</c> and the like) are not resolved: the result is null, and the caller
/// refuses what it cannot judge.
/// </summary>
public static class DockerfileVariables
{
    /// <summary>The raw words of <paramref name="text"/>: split at white space outside quotes, quotes and escapes kept.</summary>
    public static IReadOnlyList<string> Words(string text, char escape = '\\')
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is null && char.IsWhiteSpace(c))
            {
                if (current.Length > 0) words.Add(current.ToString());
                current.Clear();
                continue;
            }
            if (c == escape && quote != '\'' && i + 1 < text.Length)
            {
                current.Append(c).Append(text[++i]);
                continue;
            }
            if (quote is null && c is '"' or '\'') quote = c;
            else if (quote == c) quote = null;
            current.Append(c);
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    /// <summary>One word as the engine sees it: quotes removed, escapes applied, variables substituted; null when unresolvable.</summary>
    public static string? Process(string word, IReadOnlyDictionary<string, string> variables, char escape = '\\')
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(variables);
        var result = new StringBuilder(word.Length);
        var i = 0;
        while (i < word.Length)
        {
            var c = word[i];
            if (c == '\'')
            {
                var close = word.IndexOf('\'', i + 1);
                if (close < 0) return null;
                result.Append(word, i + 1, close - i - 1);
                i = close + 1;
                continue;
            }
            if (c == '"')
            {
                i++;
                while (true)
                {
                    if (i >= word.Length) return null;
                    var d = word[i];
                    if (d == '"')
                    {
                        i++;
                        break;
                    }
                    if (d == escape && i + 1 < word.Length && (word[i + 1] is '"' or '$' || word[i + 1] == escape))
                    {
                        result.Append(word[i + 1]);
                        i += 2;
                        continue;
                    }
                    if (d == '$')
                    {
                        if (!Substitute(word, ref i, variables, escape, result)) return null;
                        continue;
                    }
                    result.Append(d);
                    i++;
                }
                continue;
            }
            if (c == escape)
            {
                if (i + 1 < word.Length) result.Append(word[i + 1]);
                i += 2;
                continue;
            }
            if (c == '$')
            {
                if (!Substitute(word, ref i, variables, escape, result)) return null;
                continue;
            }
            result.Append(c);
            i++;
        }
        return result.ToString();
    }

    /// <summary>Reads the variable reference at <paramref name="i"/> (a <c>$</c>) and appends its value.</summary>
    private static bool Substitute(string text, ref int i, IReadOnlyDictionary<string, string> variables, char escape, StringBuilder result)
    {
        if (i + 1 >= text.Length)
        {
            result.Append('$');
            i++;
            return true;
        }
        if (text[i + 1] == '{')
        {
            var close = text.IndexOf('}', i + 2);
            if (close < 0) return false;
            var value = Braced(text[(i + 2)..close], variables, escape);
            if (value is null) return false;
            result.Append(value);
            i = close + 1;
            return true;
        }
        var start = i + 1;
        var end = start;
        while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_') && !(end == start && char.IsAsciiDigit(text[end]))) end++;
        if (end == start)
        {
            result.Append('$');
            i++;
            return true;
        }
        result.Append(variables.TryGetValue(text[start..end], out var plain) ? plain : "");
        i = end;
        return true;
    }

    private static string? Braced(string body, IReadOnlyDictionary<string, string> variables, char escape)
    {
        var nameEnd = 0;
        while (nameEnd < body.Length && (char.IsAsciiLetterOrDigit(body[nameEnd]) || body[nameEnd] == '_')) nameEnd++;
        if (nameEnd == 0) return null;
        var set = variables.TryGetValue(body[..nameEnd], out var value);
        var rest = body[nameEnd..];
        if (rest.Length == 0) return set ? value : "";
        string? Word(int skip) => Process(rest[skip..], variables, escape);
        if (rest.StartsWith(":-", StringComparison.Ordinal)) return set && value!.Length > 0 ? value : Word(2);
        if (rest.StartsWith(":+", StringComparison.Ordinal)) return set && value!.Length > 0 ? Word(2) : "";
        if (rest.StartsWith('-')) return set ? value : Word(1);
        if (rest.StartsWith('+')) return set ? Word(1) : "";
        return null;
    }

    /// <summary>
    /// The <c>NAME=VALUE</c> pairs of an <c>ARG</c> or <c>ENV</c> line (a <c>NAME</c> alone, an ARG without a default,
    /// has a null value), values processed as words; the legacy <c>ENV NAME value…</c> form too. A value that cannot be
    /// resolved is null with <paramref name="unresolved"/> set.
    /// </summary>
    public static IReadOnlyList<(string Name, string? Value)> Assignments(string arguments, bool legacyEnvForm, IReadOnlyDictionary<string, string> variables, char escape, out bool unresolved)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        unresolved = false;
        var words = Words(arguments, escape);
        var pairs = new List<(string, string?)>();
        if (words.Count == 0) return pairs;
        if (legacyEnvForm && !words[0].Contains('=', StringComparison.Ordinal))
        {
            if (words.Count == 1) return pairs;
            var rest = arguments.Trim()[words[0].Length..].Trim();
            var value = Process(rest, variables, escape);
            unresolved = value is null;
            pairs.Add((words[0], value));
            return pairs;
        }
        foreach (var word in words)
        {
            var equals = word.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                pairs.Add((word, null));
                continue;
            }
            var value = Process(word[(equals + 1)..], variables, escape);
            if (value is null) unresolved = true;
            pairs.Add((word[..equals], value));
        }
        return pairs;
    }
}
