namespace Wharf.Builds.Sources;

/// <summary>Path rules for entries of a build context: relative, no <c>..</c>, no empty or NUL names; links stay inside.</summary>
internal static class ContextPaths
{
    /// <summary>
    /// Normalizes an archive entry name ("./a//b/" → "a/b"); null when it is absolute, climbs with "..", or holds a NUL.
    /// "" is the context root.
    /// </summary>
    public static string? Normalize(string name)
    {
        if (name.Contains('\0', StringComparison.Ordinal) || name.StartsWith('/') || name.Contains('\\', StringComparison.Ordinal)) return null;
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..") return null;
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>
    /// Whether the symbolic link at <paramref name="linkPath"/> pointing at <paramref name="target"/> resolves inside the
    /// context, following the archive's other links (<paramref name="links"/>: normalized path → target) as a
    /// file system would, up to 40 hops.
    /// </summary>
    public static bool StaysInside(string linkPath, string target, IReadOnlyDictionary<string, string> links)
    {
        if (target.StartsWith('/')) return false;
        var stack = new List<string>(linkPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
        if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); // relative to the link's folder
        var pending = new Queue<string>(target.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Dequeue();
            if (part == ".") continue;
            if (part == "..")
            {
                if (stack.Count == 0) return false;
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            stack.Add(part);
            var current = string.Join('/', stack);
            if (links.TryGetValue(current, out var next))
            {
                if (++hops > 40) return false;
                if (next.StartsWith('/')) return false;
                stack.RemoveAt(stack.Count - 1);
                var rest = pending.ToArray();
                pending.Clear();
                foreach (var p in next.Split('/', StringSplitOptions.RemoveEmptyEntries)) pending.Enqueue(p);
                foreach (var p in rest) pending.Enqueue(p);
            }
        }
        return true;
    }
}
