using System.Text;

namespace Wharf.Core.Builds.Dockerfiles;

/// <summary>
/// One instruction of a Dockerfile: its keyword, its leading <c>--flag[=value]</c> tokens and the rest of its logical
/// line (continuations joined, comment lines inside them dropped, as Docker reads them), with the lines it spans.
/// </summary>
public sealed record DockerfileInstruction(string Keyword, IReadOnlyList<string> Flags, string Arguments, int FirstLine, int LastLine)
{
    /// <summary>The value of <c>--name=value</c> (the last one given), or null.</summary>
    public string? Flag(string name)
    {
        string? value = null;
        foreach (var flag in Flags)
        {
            if (flag.StartsWith("--" + name + "=", StringComparison.OrdinalIgnoreCase)) value = flag[(name.Length + 3)..];
        }
        return value;
    }

    /// <summary>Every value of <c>--name=value</c>, in order (<c>RUN --mount</c> may repeat).</summary>
    public IEnumerable<string> FlagValues(string name) =>
        Flags.Where(f => f.StartsWith("--" + name + "=", StringComparison.OrdinalIgnoreCase)).Select(f => f[(name.Length + 3)..]);

    /// <summary>This instruction as one line: keyword, flags, arguments.</summary>
    public string Render(IReadOnlyList<string>? flags = null, string? arguments = null)
    {
        var text = new StringBuilder(Keyword);
        foreach (var flag in flags ?? Flags) text.Append(' ').Append(flag);
        var rest = arguments ?? Arguments;
        if (rest.Length > 0) text.Append(' ').Append(rest);
        return text.ToString();
    }
}

/// <summary>
/// A Dockerfile read the way Docker's parser reads it: parser directives (<c># escape=</c>), line continuations with
/// the escape character, comments, and instructions with their flags. <see cref="Render"/> writes it back with chosen
/// instructions replaced, each on its first line and the rest of its lines left empty, so line numbers in engine
/// errors still point at the user's lines.
/// </summary>
public sealed class DockerfileDocument
{
    private readonly string[] _lines;

    private DockerfileDocument(string[] lines, char escape, IReadOnlyList<DockerfileInstruction> instructions)
    {
        _lines = lines;
        Escape = escape;
        Instructions = instructions;
    }

    public char Escape { get; }

    public IReadOnlyList<DockerfileInstruction> Instructions { get; }

    public static DockerfileDocument Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var escape = '\\';
        var index = 0;
        // Parser directives: "# key=value" lines at the very top, before any comment, blank line or instruction.
        for (; index < lines.Length; index++)
        {
            var trimmed = lines[index].Trim();
            if (!trimmed.StartsWith('#')) break;
            var body = trimmed[1..].Trim();
            var equals = body.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || body[..equals].Trim().Contains(' ', StringComparison.Ordinal)) break;
            var key = body[..equals].Trim();
            var value = body[(equals + 1)..].Trim();
            if (key.Equals("escape", StringComparison.OrdinalIgnoreCase) && value is "`" or "\\") escape = value[0];
        }
        var instructions = new List<DockerfileInstruction>();
        var logical = new StringBuilder();
        var first = -1;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmedStart = line.TrimStart();
            if (first < 0)
            {
                if (trimmedStart.Length == 0 || trimmedStart.StartsWith('#')) continue;
                first = i;
            }
            else if (trimmedStart.StartsWith('#') || trimmedStart.Length == 0)
            {
                // Comments and empty lines inside a continuation are dropped.
                if (i == lines.Length - 1) instructions.Add(Split(logical.ToString(), first, i));
                continue;
            }
            var trimmedEnd = line.TrimEnd();
            if (trimmedEnd.EndsWith(escape))
            {
                logical.Append(trimmedEnd, 0, trimmedEnd.Length - 1);
                if (i == lines.Length - 1)
                {
                    instructions.Add(Split(logical.ToString(), first, i));
                }
                continue;
            }
            logical.Append(line);
            instructions.Add(Split(logical.ToString(), first, i));
            logical.Clear();
            first = -1;
        }
        return new DockerfileDocument(lines, escape, instructions);
    }

    /// <summary>The text with each instruction in <paramref name="replacements"/> written as its replacement.</summary>
    public string Render(IReadOnlyDictionary<DockerfileInstruction, string> replacements)
    {
        ArgumentNullException.ThrowIfNull(replacements);
        var lines = (string[])_lines.Clone();
        foreach (var (instruction, text) in replacements)
        {
            lines[instruction.FirstLine] = text.Replace('\n', ' ');
            for (var i = instruction.FirstLine + 1; i <= instruction.LastLine; i++) lines[i] = "";
        }
        return string.Join('\n', lines);
    }

    /// <summary>"KEYWORD --a=1 --b rest" → keyword, leading flags, rest. ONBUILD keeps its trigger whole in the arguments.</summary>
    internal static DockerfileInstruction Split(string logical, int firstLine, int lastLine)
    {
        var text = logical.Trim();
        var space = IndexOfWhitespace(text, 0);
        var keyword = (space < 0 ? text : text[..space]).ToUpperInvariant();
        var position = space < 0 ? text.Length : space;
        var flags = new List<string>();
        if (keyword != "ONBUILD")
        {
            while (true)
            {
                while (position < text.Length && char.IsWhiteSpace(text[position])) position++;
                if (position + 2 > text.Length || text[position] != '-' || text[position + 1] != '-') break;
                var end = IndexOfWhitespace(text, position);
                if (end < 0) end = text.Length;
                flags.Add(text[position..end]);
                position = end;
            }
        }
        var arguments = position >= text.Length ? "" : text[position..].Trim();
        return new DockerfileInstruction(keyword, flags, arguments, firstLine, lastLine);
    }

    private static int IndexOfWhitespace(string text, int start)
    {
        for (var i = start; i < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i])) return i;
        }
        return -1;
    }
}
