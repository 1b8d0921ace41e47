using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Sources;
using Wharf.Core.Builds;

namespace Wharf.Builds.Sandbox;

/// <summary>
/// Makes each build's cgroup sandbox (<see cref="BuildSandbox"/>) under <c>/&lt;CgroupRoot&gt;/&lt;instance&gt;/&lt;owner&gt;</c>:
/// the instance is this builds folder (so two Wharfs on one host never touch each other's builds), the owner this
/// process (pid and start time, so a later process can tell that the one that made a sandbox is gone). On start-up
/// <see cref="KillOrphansAsync"/> kills what a dead process of the same instance left running. Needs root and a cgroup
/// file system; without them builds still run, killed by process tree, without limits (a warning says so).
/// </summary>
public sealed partial class BuildSandboxes : IDisposable
{
    private readonly CgroupFileSystem? _fs;
    private readonly string _instancePath;
    private readonly string _ownerPath;
    private readonly BuildOptions _options;
    private readonly ILogger<BuildSandboxes> _logger;
    private readonly Lazy<string?> _networkIsolator;

    public BuildSandboxes(BuildPaths paths, BuildOptions options, ILogger<BuildSandboxes> logger)
    {
        _options = options;
        _logger = logger;
        _instancePath = $"/{options.CgroupRoot.Trim('/')}/{paths.Instance}";
        _ownerPath = $"{_instancePath}/{OwnerName(Environment.ProcessId, StartTime(Environment.ProcessId) ?? 0)}";
        _networkIsolator = new Lazy<string?>(ProbeNetworkIsolator);
        if (!OperatingSystem.IsLinux())
        {
            UnavailableReason = "builds are sandboxed with Linux cgroups";
            return;
        }
        _fs = CgroupFileSystem.Detect();
        if (_fs is null)
        {
            UnavailableReason = "no cgroup file system is mounted";
            return;
        }
        try
        {
            foreach (var folder in _fs.Folders(_instancePath)) Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            UnavailableReason = $"cannot create cgroups under {string.Join(", ", _fs.Folders(_instancePath))}: {e.Message} (Wharf needs to run as root)";
            _fs = null;
        }
    }

    /// <summary>Whether builds run in cgroup sandboxes (limits enforced, processes killed however reparented).</summary>
    public bool IsAvailable => _fs is not null;

    /// <summary>Why <see cref="IsAvailable"/> is false.</summary>
    public string? UnavailableReason { get; }

    /// <summary><c>unshare</c>, when it can give a process an empty network namespace here (root); else null.</summary>
    public string? NetworkIsolator => _networkIsolator.Value;

    internal SandboxLimits Limits => new(_options.MaxProcesses, _options.CpuLimit, (long)_options.MemoryLimitMiB * 1024 * 1024);

    /// <summary>Creates a build's sandbox with the configured limits; null when sandboxes are not available.</summary>
    internal BuildSandbox? Create(Guid buildId)
    {
        if (_fs is null) return null;
        var sandbox = new BuildSandbox(_fs, $"{_ownerPath}/{buildId:N}");
        try
        {
            sandbox.Create(Limits);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var folder in _fs.FoldersEverywhere(sandbox.RelativePath)) BuildSandbox.RemoveTree(folder);
            throw new IOException($"Could not create the build's cgroup sandbox: {e.Message}", e);
        }
        return sandbox;
    }

    /// <summary>
    /// Kills the processes of every sandbox whose owner (a Wharf process of this instance) is no longer running, and
    /// removes those sandboxes. Returns how many processes were killed.
    /// </summary>
    public async Task<int> KillOrphansAsync()
    {
        if (_fs is null) return 0;
        var probe = _fs.Folder("pids", _instancePath) ?? _fs.Folders(_instancePath).First();
        if (!Directory.Exists(probe)) return 0;
        var killed = 0;
        foreach (var ownerFolder in Directory.EnumerateDirectories(probe))
        {
            var owner = Path.GetFileName(ownerFolder);
            if (IsAlive(owner)) continue;
            foreach (var buildFolder in Directory.EnumerateDirectories(ownerFolder))
            {
                var sandbox = new BuildSandbox(_fs, $"{_instancePath}/{owner}/{Path.GetFileName(buildFolder)}");
                var processes = sandbox.Processes().Count;
                await sandbox.DisposeAsync();
                if (processes > 0) LogOrphansKilled(_logger, processes, Path.GetFileName(buildFolder), owner);
                killed += processes;
            }
            foreach (var folder in _fs.FoldersEverywhere($"{_instancePath}/{owner}")) BuildSandbox.RemoveTree(folder);
        }
        return killed;
    }

    /// <summary>Logs once, at start-up, how builds are confined here.</summary>
    public void LogConfinement()
    {
        if (_fs is null)
        {
            LogNoSandbox(_logger, UnavailableReason ?? "unknown");
            return;
        }
        LogSandbox(_logger, _fs.IsV2 ? "v2" : "v1", _options.MaxProcesses, _options.CpuLimit, _options.MemoryLimitMiB, NetworkIsolator is not null);
    }

    /// <summary>On shutdown: removes this process's (now empty) folders, and the instance's when no other process uses it.</summary>
    public void Dispose()
    {
        if (_fs is null) return;
        foreach (var folder in _fs.FoldersEverywhere(_ownerPath))
        {
            if (Directory.Exists(folder) && Directory.EnumerateDirectories(folder).Any()) continue; // a sandbox still in use
            BuildSandbox.RemoveTree(folder);
        }
        foreach (var folder in _fs.FoldersEverywhere(_instancePath))
        {
            try
            {
                if (Directory.Exists(folder) && !Directory.EnumerateDirectories(folder).Any()) Directory.Delete(folder);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string OwnerName(int pid, long startTime) => $"p{pid.ToString(CultureInfo.InvariantCulture)}-{startTime.ToString(CultureInfo.InvariantCulture)}";

    private static bool IsAlive(string owner)
    {
        var dash = owner.IndexOf('-', StringComparison.Ordinal);
        if (!owner.StartsWith('p') || dash < 0
            || !int.TryParse(owner.AsSpan(1, dash - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(owner.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var startTime))
        {
            return false;
        }
        return StartTime(pid) == startTime;
    }

    /// <summary>A process's start time in clock ticks since boot (field 22 of <c>/proc/&lt;pid&gt;/stat</c>); null when it is gone.</summary>
    internal static long? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static string? ProbeNetworkIsolator()
    {
        foreach (var candidate in (string[])["/usr/bin/unshare", "/bin/unshare"])
        {
            if (!File.Exists(candidate)) continue;
            try
            {
                using var process = Process.Start(new ProcessStartInfo(candidate, ["--net", "--", "true"]) { UseShellExecute = false, RedirectStandardError = true });
                if (process is null) continue;
                if (process.WaitForExit(10_000) && process.ExitCode == 0) return candidate;
                if (!process.HasExited) process.Kill();
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Killed {Count} processes that build {Build} left running when its Wharf process ({Owner}) died")]
    private static partial void LogOrphansKilled(ILogger logger, int count, string build, string owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Builds run WITHOUT a sandbox: {Reason}. Their process, CPU and memory limits are not enforced, and processes a killed server leaves behind are not found again.")]
    private static partial void LogNoSandbox(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Builds run in cgroup {Version} sandboxes: at most {Processes} processes, {Cpus} CPUs, {Memory} MiB each; engine network isolation available: {Isolated}")]
    private static partial void LogSandbox(ILogger logger, string version, int processes, double cpus, int memory, bool isolated);
}
