using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Wharf.Core.References;

/// <summary>Repository names and tags as the OCI distribution spec's grammar allows them.</summary>
public static partial class RepositoryName
{
    /// <summary>Longest accepted name; clients limit host + "/" + name to 255 characters.</summary>
    public const int MaxLength = 200;

    public const int MaxTagLength = 128;

    // \z, not $: $ also matches before a final newline, which would let "name\n" through.
    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TagPattern();

    public static bool IsValid([NotNullWhen(true)] string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxLength && NamePattern().IsMatch(name);

    public static bool IsValidTag([NotNullWhen(true)] string? tag) =>
        !string.IsNullOrEmpty(tag) && tag.Length <= MaxTagLength && TagPattern().IsMatch(tag);
}
