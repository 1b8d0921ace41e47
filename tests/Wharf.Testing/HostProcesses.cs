using System.Globalization;
using System.Text;

namespace Wharf.Testing;

/// <summary>A process on this host as <c>/proc</c> shows it.</summary>
public sealed record HostProcess(int Pid, int ParentPid, int Uid, string CommandLine)
{
    public override string ToString() => $"pid {Pid} (parent {ParentPid}, uid {Uid}): {CommandLine}";
}

/// <summary>
/// Looks for processes by what they carry rather than by their parentage, so a process that was reparented to
/// PID 1 (its parent killed) is still found: an environment variable a Dockerfile set (<c>ENV MARK=…</c>), or a text
/// in the command line (a test's data folder). Reading other processes' environments needs root, as the build tests have.
/// </summary>
public static class HostProcesses
{
    /// <summary>Processes whose environment holds <paramref name="variable"/>=<paramref name="value"/> or whose command line contains <paramref name="commandLineText"/>.</summary>
    public static IReadOnlyList<HostProcess> Find(string? variable = null, string? value = null, string? commandLineText = null)
    {
        var marker = variable is null ? null : $"{variable}={value}";
        var found = new List<HostProcess>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllBytes(Path.Combine(dir, "cmdline"));
                var commandLine = Encoding.UTF8.GetString(cmdline).Replace('\0', ' ').Trim();
                var matches = commandLineText is not null && commandLine.Contains(commandLineText, StringComparison.Ordinal);
                if (!matches && marker is not null)
                {
                    var environ = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ")));
                    matches = environ.Split('\0').Contains(marker, StringComparer.Ordinal);
                }
                if (!matches) continue;
                var (parent, uid) = ReadStatus(Path.Combine(dir, "status"));
                found.Add(new HostProcess(pid, parent, uid, commandLine));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }
        return found;
    }

    /// <summary>All command lines on the host, for scanning them for a value that must not appear.</summary>
    public static IReadOnlyList<HostProcess> All() => Find(commandLineText: "");

    /// <summary>The uid a process runs as on the host (the first "Uid:" field of its status).</summary>
    public static int UidOf(int pid) => ReadStatus($"/proc/{pid}/status").Uid;

    private static (int Parent, int Uid) ReadStatus(string path)
    {
        var parent = 0;
        var uid = -1;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("PPid:", StringComparison.Ordinal)) parent = int.Parse(line[5..].Trim(), CultureInfo.InvariantCulture);
            else if (line.StartsWith("Uid:", StringComparison.Ordinal)) uid = int.Parse(line[4..].Trim().Split('\t', ' ')[0], CultureInfo.InvariantCulture);
        }
        return (parent, uid);
    }

    /// <summary>Polls until no process matches or <paramref name="timeout"/> passes; returns those still there.</summary>
    public static async Task<IReadOnlyList<HostProcess>> WaitUntilGoneAsync(Func<IReadOnlyList<HostProcess>> find, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = find();
            if (left.Count == 0 || DateTime.UtcNow > deadline) return left;
            await Task.Delay(100, ct);
        }
    }
}
