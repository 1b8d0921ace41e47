using System.Globalization;
using System.Text.Json;
using Wharf.Builds.Processes;
using Wharf.Builds.Sources;
using Wharf.Core.Builds;

namespace Wharf.Builds.Buildah;

/// <summary>
/// One namespace's buildah storage: the image store and layer cache (<c>storage/&lt;ns&gt;</c>, vfs), and the temporary
/// folder buildah works in (<c>TMPDIR</c>: its cache mounts live there too, so they are per namespace). With a user
/// namespace every layer is stored shifted into it (buildah's global <c>--userns-uid-map</c>), so containers need no
/// copy to run unprivileged; a store made with another mapping is dropped (it is a cache). Builds hold a shared lock
/// on the namespace while they run; clean-ups that remove working containers take it exclusively, so they never
/// pull the floor from under a build of another worker on this host.
/// </summary>
internal sealed class BuildahStorage(BuildPaths paths, BuildOptions options)
{
    private const string MarkerName = "wharf-storage.json";
    private static readonly Lazy<bool> s_isRoot = new(() => File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal)) is { } line
        && line[4..].Trim().Split('\t', ' ')[0] == "0");

    /// <summary>Whether builds run in a user namespace of Wharf's making (root only; rootless buildah has its own already).</summary>
    public bool MapsUsers => options.UserNamespace && s_isRoot.Value;

    /// <summary>The host uid (and gid) root in a build runs as, when <see cref="MapsUsers"/>.</summary>
    public long HostRoot => MapsUsers ? options.UserNamespaceStart : 0;

    private string Mapping => $"0:{options.UserNamespaceStart.ToString(CultureInfo.InvariantCulture)}:{options.UserNamespaceSize.ToString(CultureInfo.InvariantCulture)}";

    public string[] GlobalArguments(string @namespace)
    {
        var storage = paths.Storage(@namespace);
        string[] common = ["--storage-driver", "vfs", "--root", Path.Combine(storage, "root"), "--runroot", Path.Combine(storage, "run")];
        return MapsUsers ? [.. common, "--userns-uid-map", Mapping, "--userns-gid-map", Mapping] : common;
    }

    /// <summary>The engine's whole environment for this namespace (the server's own is not passed on).</summary>
    public Dictionary<string, string> Environment(string @namespace, string? registriesConf) => new()
    {
        ["TMPDIR"] = paths.Temp(@namespace),
        ["HOME"] = Path.Combine(paths.Storage(@namespace), "home"),
        ["XDG_RUNTIME_DIR"] = Path.Combine(paths.Storage(@namespace), "run"),
        ["BUILDAH_FORMAT"] = "oci",
        ["CONTAINERS_REGISTRIES_CONF"] = registriesConf ?? "/dev/null",
    };

    /// <summary>Creates the namespace's folders (the temporary one owned by the build's root, 0700) and drops a store made with another mapping.</summary>
    public async Task PrepareAsync(string @namespace, CancellationToken cancellationToken)
    {
        var storage = paths.Storage(@namespace);
        var marker = Path.Combine(storage, MarkerName);
        var expected = JsonSerializer.Serialize(new StorageMarker(MapsUsers ? Mapping : null), BuildahJson.Default.StorageMarker);
        if (!File.Exists(marker) || await File.ReadAllTextAsync(marker, cancellationToken) != expected)
        {
            using var exclusive = TryLock(@namespace, exclusive: true);
            if (exclusive is not null && (!File.Exists(marker) || await File.ReadAllTextAsync(marker, cancellationToken) != expected))
            {
                foreach (var sub in (string[])["root", "run"]) DeleteTree(Path.Combine(storage, sub));
                DeleteTree(paths.Temp(@namespace));
                OwnerOnly.CreateDirectory(storage);
                await File.WriteAllTextAsync(marker, expected, cancellationToken);
            }
        }
        Directory.CreateDirectory(Path.Combine(storage, "home"));
        if (!Directory.Exists(paths.TempRoot))
        {
            OwnerOnly.CreateDirectory(paths.TempRoot, othersMayPass: true);
        }
        var temp = paths.Temp(@namespace);
        if (!Directory.Exists(temp))
        {
            OwnerOnly.CreateDirectory(temp);
            if (MapsUsers)
            {
                var owner = HostRoot.ToString(CultureInfo.InvariantCulture);
                var (code, output) = await ProcessRunner.CaptureAsync(new ProcessSpec("chown", [$"{owner}:{owner}", temp]), cancellationToken);
                if (code != 0) throw new IOException($"chown {owner}:{owner} {temp} failed: {output.Trim()}");
            }
        }
    }

    /// <summary>A lock on the namespace's storage: shared while a build uses it, exclusive for a clean-up; null when another holds it the other way.</summary>
    public FileStream? TryLock(string @namespace, bool exclusive)
    {
        var storage = paths.Storage(@namespace);
        Directory.CreateDirectory(storage);
        try
        {
            // .NET takes flock(LOCK_EX) for FileShare.None and flock(LOCK_SH) otherwise, without waiting.
            return new FileStream(Path.Combine(storage, "storage.lock"), FileMode.OpenOrCreate, exclusive ? FileAccess.ReadWrite : FileAccess.Read,
                exclusive ? FileShare.None : FileShare.ReadWrite);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits for a shared lock (a clean-up holds the exclusive one only briefly).</summary>
    public async Task<FileStream> LockSharedAsync(string @namespace, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryLock(@namespace, exclusive: false) is { } held) return held;
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Bytes the namespace's storage and temporary folder hold (apparent sizes, links not followed).</summary>
    public long SizeOf(string @namespace) => FolderSize(paths.Storage(@namespace)) + FolderSize(paths.Temp(@namespace));

    /// <summary>Bytes under a folder, walked without following links.</summary>
    internal static long FolderSize(string folder)
    {
        if (!Directory.Exists(folder)) return 0;
        long total = 0;
        var stack = new Stack<string>();
        stack.Push(folder);
        var options = new EnumerationOptions { IgnoreInaccessible = true, RecurseSubdirectories = false, AttributesToSkip = 0, ReturnSpecialDirectories = false };
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            try
            {
                foreach (var entry in new DirectoryInfo(current).EnumerateFileSystemInfos("*", options))
                {
                    if ((entry.Attributes & FileAttributes.ReparsePoint) != 0) continue;
                    if (entry is DirectoryInfo) stack.Push(entry.FullName);
                    else if (entry is FileInfo file) total += file.Length;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed while we walked it.
            }
        }
        return total;
    }

    /// <summary>Engine temporary folders of builds that no longer run (buildah leaves them when killed); cache mounts stay.</summary>
    public void RemoveTemporaryLeftovers(string @namespace)
    {
        var temp = paths.Temp(@namespace);
        if (!Directory.Exists(temp)) return;
        foreach (var folder in Directory.EnumerateDirectories(temp))
        {
            if (Path.GetFileName(folder) != "buildah-cache") DeleteTree(folder);
        }
        foreach (var file in Directory.EnumerateFiles(temp)) File.Delete(file);
    }

    /// <summary>Drops the namespace's cache mounts (when its storage is over the limit).</summary>
    public void RemoveCacheMounts(string @namespace) => DeleteTree(Path.Combine(paths.Temp(@namespace), "buildah-cache"));

    internal static void DeleteTree(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
            // vfs layers may hold read-only folders: buildah's own removal (rmi, rm) deals with those.
        }
    }
}

internal sealed record StorageMarker(string? UserNamespaceMapping);

[System.Text.Json.Serialization.JsonSerializable(typeof(StorageMarker))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class BuildahJson : System.Text.Json.Serialization.JsonSerializerContext;
