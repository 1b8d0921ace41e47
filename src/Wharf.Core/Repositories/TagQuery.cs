using System.Globalization;
using System.Text;

namespace Wharf.Core.Repositories;

/// <summary>The orders a tag table can be sorted in; newest first is the default.</summary>
public enum TagSort
{
    /// <summary>Most recently pushed first (ties: name, descending).</summary>
    Newest,

    /// <summary>Least recently pushed first (ties: name, ascending).</summary>
    Oldest,

    /// <summary>By name in ASCII order.</summary>
    NameAscending,

    /// <summary>By name in reverse ASCII order.</summary>
    NameDescending,
}

/// <summary>
/// Where a page of tags starts in a given order (keyset pagination): after the tag <see cref="Name"/>, pushed at
/// <see cref="PushedAtMs"/>. Opaque to clients: <see cref="Encode"/> and <see cref="TryDecode"/>.
/// </summary>
public readonly record struct TagCursor(TagSort Sort, long PushedAtMs, string Name)
{
    public string Encode() =>
        Base64Url.Encode(Encoding.UTF8.GetBytes($"{(int)Sort}:{PushedAtMs.ToString(CultureInfo.InvariantCulture)}:{Name}"));

    /// <summary>Decodes a cursor made by <see cref="Encode"/> for the same <paramref name="sort"/>; false otherwise.</summary>
    public static bool TryDecode(string? text, TagSort sort, out TagCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > 512) return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Base64Url.Decode(text));
        }
        catch (FormatException)
        {
            return false;
        }
        var parts = decoded.Split(':', 3);
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sortNumber) || sortNumber != (int)sort
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || !References.RepositoryName.IsValidTag(parts[2]))
        {
            return false;
        }
        cursor = new TagCursor(sort, ms, parts[2]);
        return true;
    }
}

/// <summary>
/// A page request for a repository's tags: the order, an optional name filter (a substring) and platform filter
/// (<c>os/arch[/variant]</c>), and where the page starts.
/// </summary>
public sealed record TagQuery(TagSort Sort, string? NameContains, string? Platform, TagCursor? After, int Limit);
