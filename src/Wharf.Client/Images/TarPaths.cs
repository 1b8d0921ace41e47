using System.Formats.Tar;

namespace Wharf.Client.Images;

/// <summary>Entry names inside archives, normalized and checked so that nothing escapes an extraction folder.</summary>
internal static class TarPaths
{
    /// <summary>"./a//b/" → "a/b"; null for names that climb out ("..") or are absolute.</summary>
    public static string? Normalize(string name)
    {
        var parts = new List<string>();
        foreach (var part in name.Replace('\\', '/').Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) return null;
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return parts.Count == 0 ? null : string.Join('/', parts);
    }

    /// <summary>The target of a symbolic link entry, as an archive-relative name.</summary>
    public static string? ResolveLink(string entryName, string linkName)
    {
        if (linkName.StartsWith('/')) return Normalize(linkName);
        var slash = entryName.LastIndexOf('/');
        return Normalize(slash < 0 ? linkName : entryName[..(slash + 1)] + linkName);
    }

    public static bool IsFile(TarEntry entry) => entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile;

    public static bool IsLink(TarEntry entry) => entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink;

    /// <summary>Turns the exceptions of a damaged archive into a message for people.</summary>
    public static WharfClientException Corrupt(string path, Exception e) =>
        new(ClientErrorKind.InvalidInput, $"{path} is not a readable archive ({e.Message}); it may be truncated or corrupt.", e);
}
