using System.Diagnostics.CodeAnalysis;
using Wharf.Core.References;

namespace Wharf.Core.Builds;

/// <summary>
/// A build target: <c>[registry/]repository[:tag]</c>. The first component is a registry when it has a dot or a
/// colon or is <c>localhost</c>, as Docker reads references. The tag defaults to <c>latest</c>; digests are refused.
/// </summary>
public sealed record ImageReference(string? Registry, string Repository, string Tag)
{
    public const int MaxLength = 255;

    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference, out string? error)
    {
        reference = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text) || text.Length > MaxLength)
        {
            error = "The image reference is empty or longer than 255 characters.";
            return false;
        }
        if (text.Contains('@', StringComparison.Ordinal))
        {
            error = "A build target names a tag, not a digest.";
            return false;
        }
        string? registry = null;
        var rest = text;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = text[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                if (!IsValidHost(first))
                {
                    error = $"'{first}' is not a valid registry host.";
                    return false;
                }
                registry = first;
                rest = text[(slash + 1)..];
            }
        }
        var tag = "latest";
        var colon = rest.LastIndexOf(':');
        if (colon >= 0)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
        }
        if (!RepositoryName.IsValid(rest))
        {
            error = $"'{rest}' is not a valid repository name (lower-case letters, digits, separators . _ -, components joined by /).";
            return false;
        }
        if (!RepositoryName.IsValidTag(tag))
        {
            error = $"'{tag}' is not a valid tag.";
            return false;
        }
        reference = new ImageReference(registry, rest, tag);
        return true;
    }

    private static bool IsValidHost(string host)
    {
        foreach (var c in host)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '[' or ']')) return false;
        }
        return host.Length <= 253;
    }

    public override string ToString() => Registry is null ? $"{Repository}:{Tag}" : $"{Registry}/{Repository}:{Tag}";
}
