using System.Globalization;
using System.Text;

namespace Wharf.Testing;

/// <summary>
/// A fresh folder under /tmp with a short path (unix socket paths are limited to ~100 characters),
/// removed on dispose after unmounting anything a tool left mounted below it.
/// </summary>
public sealed class TempDirectory : IAsyncDisposable
{
    private TempDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates /tmp/PREFIX-XXXXXXXX (or under the system temp folder when /tmp is missing).</summary>
    public static TempDirectory Create(string prefix = "wt")
    {
        var root = Directory.Exists("/tmp") ? "/tmp" : System.IO.Path.GetTempPath();
        while (true)
        {
            var candidate = System.IO.Path.Combine(root, $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}");
            if (!Directory.Exists(candidate) && !File.Exists(candidate))
            {
                Directory.CreateDirectory(candidate);
                return new TempDirectory(candidate);
            }
        }
    }

    /// <summary>Path of an entry inside this folder (not created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Creates and returns a sub-folder.</summary>
    public string CreateSubdirectory(params string[] parts) => Directory.CreateDirectory(Combine(parts)).FullName;

    public async ValueTask DisposeAsync() => await DeleteTreeAsync(Path, CancellationToken.None);

    /// <summary>Unmounts whatever is mounted below <paramref name="path"/>, then deletes it.</summary>
    public static async Task DeleteTreeAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        await UnmountBelowAsync(path, cancellationToken);
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Read-only folders from image layers, or files still being released: let rm try.
            await ExternalTool.RunAsync("rm", ["-rf", "--one-file-system", path], cancellationToken: cancellationToken);
        }
    }

    /// <summary>Unmounts (deepest first) every mount point at or below <paramref name="path"/>.</summary>
    public static async Task UnmountBelowAsync(string path, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/self/mountinfo"))
        {
            return;
        }

        var full = System.IO.Path.GetFullPath(path).TrimEnd('/');
        var mounts = File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => UnescapeMountPath(fields[4]))
            .Where(mountPoint => mountPoint == full || mountPoint.StartsWith(full + "/", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(mountPoint => mountPoint.Length)
            .ToList();
        foreach (var mountPoint in mounts)
        {
            var result = await ExternalTool.RunAsync("umount", [mountPoint], cancellationToken: cancellationToken);
            if (!result.Succeeded)
            {
                await ExternalTool.RunAsync("umount", ["-l", mountPoint], cancellationToken: cancellationToken);
            }
        }
    }

    private static string UnescapeMountPath(string escaped)
    {
        // mountinfo escapes space, tab, newline and backslash as \ooo (octal).
        if (!escaped.Contains('\\', StringComparison.Ordinal))
        {
            return escaped;
        }

        var sb = new StringBuilder(escaped.Length);
        for (var i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == '\\' && i + 3 < escaped.Length &&
                int.TryParse(escaped.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                sb.Append((char)Convert.ToInt32(escaped.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(escaped[i]);
            }
        }

        return sb.ToString();
    }
}
