using System.Diagnostics;
using System.Globalization;

namespace Wharf.Builds.Sandbox;

/// <summary>The limits a build's sandbox enforces.</summary>
internal sealed record SandboxLimits(int MaxProcesses, double Cpus, long MemoryBytes);

/// <summary>A limit a build ran into, as the sandbox's counters tell it.</summary>
internal enum SandboxLimit
{
    None,
    Processes,
    Memory,
}

/// <summary>
/// One build's cgroup subtree, <c>/&lt;root&gt;/&lt;instance&gt;/&lt;owner&gt;/&lt;build&gt;</c> in every managed hierarchy:
/// <c>engine/</c> holds the engine's processes (buildah, started through <see cref="Wrap"/>), <c>containers/</c> is the
/// parent of every container the build runs (buildah's <c>containers/step</c>, the Docker Engine's <c>cgroupparent</c>).
/// The CPU limit sits on the build, the process and memory limits on <c>containers/</c> (so a fork bomb cannot starve
/// the engine of the threads it needs to stop). Killing freezes the subtree and kills every process in it, however
/// it was reparented; disposing kills and removes the folders.
/// </summary>
internal sealed class BuildSandbox : IAsyncDisposable
{
    private const string Script = "for f; do [ \"$f\" = -- ] && break; echo $$ > \"$f\" || exit 125; shift; done; shift; exec \"$@\"";
    private readonly CgroupFileSystem _fs;

    internal BuildSandbox(CgroupFileSystem fs, string relativePath)
    {
        _fs = fs;
        RelativePath = relativePath;
    }

    /// <summary>The build's cgroup path from the hierarchy root, e.g. <c>/wharf/1a2b…/p123-456/&lt;id&gt;</c>.</summary>
    public string RelativePath { get; }

    /// <summary>The parent cgroup of the build's containers (absolute, as engines take it): the Docker Engine's <c>cgroupparent</c>.</summary>
    public string ContainersParent => RelativePath + "/containers";

    /// <summary>
    /// The cgroup buildah runs each RUN container in (its <c>--cgroup-parent</c> is the container's own cgroup, which runc
    /// removes when the step ends): a child of <see cref="ContainersParent"/>, so the limits there outlive every step.
    /// </summary>
    public string StepCgroup => ContainersParent + "/step";

    private string EnginePath => RelativePath + "/engine";

    /// <summary>Creates the folders and writes the limits. Throws <see cref="IOException"/> when the hierarchy refuses.</summary>
    internal void Create(SandboxLimits limits)
    {
        if (_fs.IsV2)
        {
            var root = _fs.Unified!;
            var parts = RelativePath.Trim('/').Split('/');
            var current = root;
            EnableControllers(root);
            foreach (var part in parts)
            {
                current = Path.Combine(current, part);
                Directory.CreateDirectory(current);
                EnableControllers(current);
            }
            var containers = Path.Combine(current, "containers");
            Directory.CreateDirectory(Path.Combine(current, "engine"));
            Directory.CreateDirectory(containers);
            EnableControllers(containers);
            TryWrite(Path.Combine(current, "cpu.max"), $"{Quota(limits.Cpus).ToString(CultureInfo.InvariantCulture)} 100000");
            Write(Path.Combine(containers, "pids.max"), limits.MaxProcesses.ToString(CultureInfo.InvariantCulture));
            TryWrite(Path.Combine(containers, "memory.max"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
            TryWrite(Path.Combine(containers, "memory.swap.max"), "0");
            return;
        }
        foreach (var folder in _fs.Folders(RelativePath))
        {
            Directory.CreateDirectory(Path.Combine(folder, "engine"));
            Directory.CreateDirectory(Path.Combine(folder, "containers"));
        }
        Write(Path.Combine(_fs.Folder("pids", ContainersParent) ?? throw new IOException("The pids controller is not mounted."), "pids.max"),
            limits.MaxProcesses.ToString(CultureInfo.InvariantCulture));
        if (_fs.Folder("cpu", RelativePath) is { } cpu)
        {
            TryWrite(Path.Combine(cpu, "cpu.cfs_period_us"), "100000");
            TryWrite(Path.Combine(cpu, "cpu.cfs_quota_us"), Quota(limits.Cpus).ToString(CultureInfo.InvariantCulture));
        }
        if (_fs.Folder("memory", ContainersParent) is { } memory)
        {
            TryWrite(Path.Combine(memory, "memory.limit_in_bytes"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
            TryWrite(Path.Combine(memory, "memory.memsw.limit_in_bytes"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// The command that runs <paramref name="fileName"/> inside the build's <c>engine/</c> cgroup: a shell writes its
    /// own pid into each hierarchy's <c>cgroup.procs</c>, then execs the program (so no child of it starts outside).
    /// With <paramref name="networkIsolator"/> (<c>unshare</c>) the program gets a network namespace of its own with
    /// nothing in it.
    /// </summary>
    public (string FileName, IReadOnlyList<string> Arguments) Wrap(string fileName, IEnumerable<string> arguments, string? networkIsolator)
    {
        List<string> args = ["-c", Script, "wharf-sandbox"];
        args.AddRange(_fs.Folders(EnginePath).Select(f => Path.Combine(f, "cgroup.procs")));
        args.Add("--");
        if (networkIsolator is not null) args.AddRange([networkIsolator, "--net", "--"]);
        args.Add(fileName);
        args.AddRange(arguments);
        return ("/bin/sh", args);
    }

    /// <summary>Which limit the build's containers ran into, from the kernel's counters (failed forks, OOM kills).</summary>
    public SandboxLimit LimitReached()
    {
        if (_fs.Folder("pids", ContainersParent) is { } pids && ProcessLimitReached(pids)) return SandboxLimit.Processes;
        if (_fs.Folder("memory", ContainersParent) is { } memory)
        {
            var oomKills = _fs.IsV2 ? Counter(Path.Combine(memory, "memory.events"), "oom_kill") : Counter(Path.Combine(memory, "memory.oom_control"), "oom_kill");
            if (oomKills > 0) return SandboxLimit.Memory;
        }
        return SandboxLimit.None;
    }

    /// <summary>
    /// Whether a fork failed at the process limit. The kernel counts a failed fork in <c>pids.events</c> of the cgroup
    /// the forking process is in (v1; v2 also counts it up the tree), which runc removes when a step ends; so the
    /// subtree's counters are read while they exist, and the peak at the limit's own cgroup tells afterwards.
    /// </summary>
    private static bool ProcessLimitReached(string folder)
    {
        if (Counter(Path.Combine(folder, "pids.peak"), "") is var peak and >= 0
            && File.Exists(Path.Combine(folder, "pids.max"))
            && long.TryParse(File.ReadAllText(Path.Combine(folder, "pids.max")).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            && peak >= max)
        {
            return true;
        }
        var stack = new Stack<string>();
        stack.Push(folder);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            if (Counter(Path.Combine(current, "pids.events"), "max") > 0) return true;
            try
            {
                foreach (var child in Directory.EnumerateDirectories(current)) stack.Push(child);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return false;
    }

    /// <summary>CPU time used by everything in the build so far, when the hierarchy counts it.</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            if (_fs.IsV2)
            {
                var usec = Counter(Path.Combine(_fs.Unified!, RelativePath.TrimStart('/'), "cpu.stat"), "usage_usec");
                return usec < 0 ? null : TimeSpan.FromMicroseconds(usec);
            }
            if (_fs.Folder("cpuacct", RelativePath) is not { } folder) return null;
            var text = File.ReadAllText(Path.Combine(folder, "cpuacct.usage")).Trim();
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ns) ? TimeSpan.FromTicks(ns / 100) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The processes in the build's subtree now.</summary>
    public IReadOnlyList<int> Processes()
    {
        var root = _fs.Folder("pids", RelativePath) ?? _fs.Folders(RelativePath).First();
        return ReadProcesses(root);
    }

    /// <summary>
    /// Kills every process of the build: freezes the subtree (so nothing forks meanwhile), sends SIGKILL to each,
    /// thaws, and waits until the subtree is empty (up to <paramref name="timeout"/>). True when it emptied.
    /// </summary>
    public async Task<bool> KillAllAsync(TimeSpan timeout)
    {
        var root = _fs.Folder("pids", RelativePath) ?? _fs.Folders(RelativePath).First();
        if (!Directory.Exists(root)) return true;
        if (_fs.IsV2 && File.Exists(Path.Combine(root, "cgroup.kill")))
        {
            TryWrite(Path.Combine(root, "cgroup.kill"), "1");
        }
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var freezer = Freeze(true);
            foreach (var pid in ReadProcesses(root)) SendKill(pid);
            if (freezer) Freeze(false);
            if (ReadProcesses(root).Count == 0) return true;
            if (deadline.Elapsed > timeout) return false;
            await Task.Delay(20);
        }
    }

    /// <summary>Kills what is left and removes the build's folders in every hierarchy (runc's leftovers included).</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAllAsync(TimeSpan.FromSeconds(10));
        foreach (var folder in _fs.FoldersEverywhere(RelativePath)) RemoveTree(folder);
    }

    /// <summary>Removes a cgroup folder and the ones below it, deepest first (cgroup folders go with rmdir only).</summary>
    internal static void RemoveTree(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (var child in Directory.EnumerateDirectories(folder)) RemoveTree(child);
        try
        {
            Directory.Delete(folder);
        }
        catch (IOException)
        {
            // Still busy (a process the kernel has not reaped yet): the next start-up's orphan sweep removes it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    internal static IReadOnlyList<int> ReadProcesses(string root)
    {
        var pids = new List<int>();
        if (!Directory.Exists(root)) return pids;
        var stack = new Stack<string>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var folder = stack.Pop();
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(folder, "cgroup.procs")))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) pids.Add(pid);
                }
                foreach (var child in Directory.EnumerateDirectories(folder)) stack.Push(child);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed while we read it.
            }
        }
        return pids;
    }

    private bool Freeze(bool frozen)
    {
        if (_fs.IsV2)
        {
            var file = Path.Combine(_fs.Unified!, RelativePath.TrimStart('/'), "cgroup.freeze");
            return File.Exists(file) && TryWrite(file, frozen ? "1" : "0");
        }
        if (_fs.Folder("freezer", RelativePath) is not { } folder) return false;
        var state = Path.Combine(folder, "freezer.state");
        return File.Exists(state) && TryWrite(state, frozen ? "FROZEN" : "THAWED");
    }

    private static void SendKill(int pid)
    {
        if (pid == Environment.ProcessId) return;
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Gone already.
        }
    }

    /// <summary>The value of a "name value" line of a cgroup file; with an empty name, a file holding one number.</summary>
    private static long Counter(string file, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                if (name.Length == 0) return long.TryParse(line.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var single) ? single : -1;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[0] == name && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value)) return value;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return -1;
    }

    /// <summary>v2: lets the folder's children use pids, cpu and memory (one at a time: a controller the host lacks fails alone).</summary>
    private static void EnableControllers(string folder)
    {
        foreach (var controller in (string[])["+pids", "+cpu", "+memory"]) TryWrite(Path.Combine(folder, "cgroup.subtree_control"), controller);
    }

    private static long Quota(double cpus) => Math.Max(1000, (long)Math.Round(cpus * 100_000));

    private static void Write(string file, string value) => File.WriteAllText(file, value);

    private static bool TryWrite(string file, string value)
    {
        try
        {
            File.WriteAllText(file, value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
