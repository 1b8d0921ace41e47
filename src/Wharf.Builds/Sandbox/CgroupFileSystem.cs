namespace Wharf.Builds.Sandbox;

/// <summary>
/// Where this host's cgroup hierarchies are mounted, read from <c>/proc/self/mountinfo</c>: the unified (v2) hierarchy,
/// or one v1 hierarchy per controller (<c>pids</c>, <c>cpu</c>, <c>memory</c>, <c>freezer</c>, …). A host with v1
/// controllers mounted (hybrid included) is treated as v1: that is where the controllers are.
/// </summary>
internal sealed class CgroupFileSystem
{
    private CgroupFileSystem(string? unified, IReadOnlyDictionary<string, string> controllers, IReadOnlyList<string> allV1)
    {
        Unified = unified;
        Controllers = controllers;
        AllV1Mounts = allV1;
    }

    /// <summary>The cgroup2 mount point when the host runs the unified hierarchy alone; null on v1 and hybrid hosts.</summary>
    public string? Unified { get; }

    /// <summary>v1: controller name → mount point of its hierarchy (co-mounted controllers share one).</summary>
    public IReadOnlyDictionary<string, string> Controllers { get; }

    /// <summary>v1: every hierarchy's mount point, named ones included (runc creates a container's cgroup in all of them).</summary>
    public IReadOnlyList<string> AllV1Mounts { get; }

    public bool IsV2 => Unified is not null;

    /// <summary>Reads the mount table; null when no usable cgroup file system is mounted.</summary>
    public static CgroupFileSystem? Detect(string mountInfo = "/proc/self/mountinfo")
    {
        if (!File.Exists(mountInfo)) return null;
        string? unified = null;
        var controllers = new Dictionary<string, string>(StringComparer.Ordinal);
        var all = new List<string>();
        foreach (var line in File.ReadLines(mountInfo))
        {
            // id parent major:minor root mount-point options [optional fields] - fstype source super-options
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0) continue;
            var before = line[..separator].Split(' ');
            var after = line[(separator + 3)..].Split(' ');
            if (before.Length < 5 || after.Length < 3) continue;
            var mountPoint = Unescape(before[4]);
            if (before[3] != "/") continue; // a bind of a sub-folder (a container's view): not the hierarchy's root
            if (after[0] == "cgroup2")
            {
                if (File.Exists(Path.Combine(mountPoint, "cgroup.controllers")) && unified is null) unified = mountPoint;
            }
            else if (after[0] == "cgroup")
            {
                all.Add(mountPoint);
                foreach (var option in after[2].Split(','))
                {
                    if (option is "pids" or "cpu" or "cpuacct" or "memory" or "freezer") controllers.TryAdd(option, mountPoint);
                }
            }
        }
        if (controllers.Count > 0) return new CgroupFileSystem(null, controllers, all);
        if (unified is not null) return new CgroupFileSystem(unified, controllers, all);
        return null;
    }

    /// <summary>The folders that hold one cgroup path (e.g. <c>/wharf/x</c>) in every managed hierarchy.</summary>
    public IEnumerable<string> Folders(string relative)
    {
        if (Unified is { } root)
        {
            yield return Join(root, relative);
            yield break;
        }
        foreach (var mount in Controllers.Values.Distinct(StringComparer.Ordinal)) yield return Join(mount, relative);
    }

    /// <summary>v1: the same path in every hierarchy, the ones runc created folders in too; v2: the one folder.</summary>
    public IEnumerable<string> FoldersEverywhere(string relative) =>
        Unified is not null ? Folders(relative) : AllV1Mounts.Distinct(StringComparer.Ordinal).Select(m => Join(m, relative));

    /// <summary>The folder of <paramref name="relative"/> in the hierarchy holding <paramref name="controller"/> (v2: the unified one).</summary>
    public string? Folder(string controller, string relative)
    {
        if (Unified is { } root) return Join(root, relative);
        return Controllers.TryGetValue(controller, out var mount) ? Join(mount, relative) : null;
    }

    public static string Join(string mount, string relative) => Path.Combine(mount, relative.TrimStart('/'));

    private static string Unescape(string field) => field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
        .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
