using System.Diagnostics.CodeAnalysis;
using Wharf.Core.Digests;
using Wharf.Core.References;

namespace Wharf.Client;

/// <summary>
/// An image reference as people type it: <c>[host[:port]/]namespace/repo[:tag][@digest]</c>.
/// The first path component is a registry host when it holds a '.' or a ':' or is <c>localhost</c>, as docker decides.
/// </summary>
public sealed record ImageReference(string? Registry, string Repository, string? Tag, Digest? Digest)
{
    public const string DefaultTag = "latest";

    /// <summary>The tag, or the digest, that names the manifest (tag defaults to <c>latest</c>).</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag ?? DefaultTag;

    /// <summary>Parses and validates the name and tag locally; <paramref name="error"/> says what is wrong and how to fix it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "An image name is required, e.g. alice/app:1.0.";
            return false;
        }
        if (text.Any(char.IsWhiteSpace))
        {
            error = $"'{text}' contains white space; image names are lower-case letters, digits and separators (. _ -), e.g. alice/my-app:1.0.";
            return false;
        }
        var rest = text;
        Digest? digest = null;
        var at = rest.IndexOf('@');
        if (at >= 0)
        {
            if (!Core.Digests.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                error = $"'{rest[(at + 1)..]}' is not a valid digest (sha256:<64 hex>).";
                return false;
            }
            digest = d;
            rest = rest[..at];
        }
        string? registry = null;
        var slash = rest.IndexOf('/');
        if (slash > 0)
        {
            var first = rest[..slash];
            if (first.Contains('.') && first != ".." && first != "." || first.Contains(':') || first == "localhost")
            {
                registry = first;
                rest = rest[(slash + 1)..];
            }
        }
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon >= 0 && colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!RepositoryName.IsValidTag(tag))
            {
                error = tag.Length > RepositoryName.MaxTagLength
                    ? $"The tag is {tag.Length} characters long; tags are at most {RepositoryName.MaxTagLength} characters."
                    : $"'{tag}' is not a valid tag: use letters, digits, '_', '.' and '-', not starting with '.' or '-', at most {RepositoryName.MaxTagLength} characters.";
                return false;
            }
        }
        if (!RepositoryName.IsValid(rest))
        {
            error = rest.Any(char.IsAsciiLetterUpper)
                ? $"'{rest}' has upper-case letters; repository names are lower case, e.g. '{rest.ToLowerInvariant()}'."
                : rest.Split('/').Any(p => p is "." or ".." or "")
                    ? $"'{rest}' is not a valid repository name: path components cannot be empty, '.' or '..'."
                    : $"'{rest}' is not a valid repository name: use lower-case letters and digits separated by '.', '_', '__', '-' or '/', e.g. alice/my-app.";
            return false;
        }
        reference = new ImageReference(registry, rest, tag, digest);
        error = null;
        return true;
    }

    /// <summary><c>repository:tag</c> or <c>repository@sha256:…</c> (the tag defaulting to latest), without the registry.</summary>
    public string RepositoryAndReference => Digest is { } d ? $"{Repository}@{d}" : $"{Repository}:{Tag ?? DefaultTag}";

    public override string ToString()
    {
        var name = Registry is null ? Repository : $"{Registry}/{Repository}";
        if (Tag is not null) name += ":" + Tag;
        if (Digest is not null) name += "@" + Digest;
        return name;
    }
}
