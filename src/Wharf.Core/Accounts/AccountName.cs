using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Wharf.Core.Accounts;

/// <summary>
/// User and organization names: one name space, each a valid repository-name component (lower-case letters and
/// digits, joined by '.', '_', '__' or dashes), 2 to 64 characters.
/// </summary>
public static partial class AccountName
{
    public const int MinLength = 2;
    public const int MaxLength = 64;

    /// <summary>Names that would read like something else in a URL or a reference.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal) { "v2", "api", "auth", "admin", "root", "library", "_catalog", "wharf" };

    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>Null when valid, else why not.</summary>
    public static string? Problem([NotNullWhen(false)] string? name)
    {
        if (string.IsNullOrEmpty(name)) return "A name is required.";
        if (name.Length < MinLength || name.Length > MaxLength) return $"A name has {MinLength} to {MaxLength} characters.";
        if (!Pattern().IsMatch(name)) return "A name has lower-case letters a-z and digits, optionally joined by '.', '_', '__' or '-'; it starts and ends with a letter or digit.";
        if (Reserved.Contains(name)) return $"'{name}' is reserved.";
        return null;
    }

    /// <summary>The namespace of a repository: its first path component, or null for a one-component name (the root namespace).</summary>
    public static string? NamespaceOf(string repository)
    {
        var slash = repository.IndexOf('/');
        return slash <= 0 ? null : repository[..slash];
    }
}
