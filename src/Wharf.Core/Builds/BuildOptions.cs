namespace Wharf.Core.Builds;

/// <summary>Section <c>Wharf:Builds</c>: the build service. Every value has a default that works on one machine.</summary>
public sealed class BuildOptions
{
    public const string Section = "Builds";
    public static readonly string[] Engines = ["Buildah", "Docker"];
    public static readonly string[] Isolations = ["Auto", "Oci", "Chroot"];

    /// <summary>The builder engine: <c>Buildah</c> (default) or <c>Docker</c> (the Docker Engine API at <see cref="DockerHost"/>).</summary>
    public string Engine { get; set; } = "Buildah";

    /// <summary>
    /// Builds run at once by this process; 0 disables the workers (API-only node). Default: what the machine holds,
    /// <see cref="DefaultWorkers"/> (its processors over <see cref="CpuLimit"/>, its memory over <see cref="MemoryLimitMiB"/>).
    /// </summary>
    public int Workers { get; set; } = DefaultWorkers(1, 2048);

    /// <summary>A build (and its push) running longer ends as <c>timed_out</c>. Default 30 minutes.</summary>
    public TimeSpan BuildTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A build waiting in the queue longer ends as <c>timed_out</c>. Default 1 hour.</summary>
    public TimeSpan QueueTimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Largest upload of a context archive, as sent (compressed). Default 512 MiB.</summary>
    public long MaxContextBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Largest total of a context's files once unpacked (tar bombs). Default 2 GiB.</summary>
    public long MaxContextExpandedBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Most entries in a context archive. Default 100,000.</summary>
    public int MaxContextEntries { get; set; } = 100_000;

    /// <summary>Largest Dockerfile. Default 1 MiB.</summary>
    public long MaxDockerfileBytes { get; set; } = 1024 * 1024;

    /// <summary>Builds of one namespace running at once, across all workers. Default 2.</summary>
    public int MaxConcurrentPerNamespace { get; set; } = 2;

    /// <summary>How long a worker's lease lasts without renewal; it renews every third of it. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often idle workers look at the queue besides in-process wake-ups. Default 2 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Let RUN steps reach the network. Default false (<c>--network none</c>).</summary>
    public bool AllowNetwork { get; set; }

    /// <summary>Memory limit of a build's containers, in MiB. Default 2048.</summary>
    public int MemoryLimitMiB { get; set; } = 2048;

    /// <summary>Processes (threads included) a build's containers may run at once; a fork beyond it fails and ends the build. Default 1024.</summary>
    public int MaxProcesses { get; set; } = 1024;

    /// <summary>CPUs a build may use (its engine and containers together; 1.5 = one and a half). Default 1.</summary>
    public double CpuLimit { get; set; } = 1;

    /// <summary>
    /// Disk a namespace's build storage (its layer cache, working containers and cache mounts) may fill; a build that
    /// grows it beyond ends, and the next build clears the cache first. Default 10 GiB.
    /// </summary>
    public long MaxStorageBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>
    /// Registries builds may pull from besides Wharf itself: <c>host[:port]</c>, optionally with a repository prefix
    /// (<c>registry.example.com/team</c>), or <c>*.example.com</c> for a domain. Default none.
    /// </summary>
    public string[] AllowedRegistries { get; set; } = [];

    /// <summary>URL prefixes builds may fetch (<c>ADD https://…</c>), e.g. <c>https://example.com/downloads/</c>. Default none.</summary>
    public string[] AllowedUrls { get; set; } = [];

    /// <summary>Run a build's processes in a user namespace, so root in a build is an unprivileged user on the host. Default true.</summary>
    public bool UserNamespace { get; set; } = true;

    /// <summary>The first host uid (and gid) a build's user namespace maps to: root in a build is this uid on the host. Default 1,000,000,000.</summary>
    public long UserNamespaceStart { get; set; } = 1_000_000_000;

    /// <summary>How many uids (and gids) a build's user namespace maps. Default 65536.</summary>
    public int UserNamespaceSize { get; set; } = 65536;

    /// <summary>The cgroup under which each build gets its own (process, CPU and memory limits; killing). Default <c>wharf</c>.</summary>
    public string CgroupRoot { get; set; } = "wharf";

    /// <summary>
    /// Folder for the engine's temporary files and cache mounts, per namespace; outside the data folder, whose mode
    /// (0700) a build's user namespace cannot pass. Default <c>/var/tmp/wharf-builds-&lt;id of the builds folder&gt;</c>.
    /// </summary>
    public string? TempPath { get; set; }

    /// <summary>buildah isolation: <c>Auto</c> (default: OCI under runc where the host allows, else chroot), <c>Oci</c>, <c>Chroot</c>.</summary>
    public string Isolation { get; set; } = "Auto";

    /// <summary>The Docker Engine socket for <c>Engine=Docker</c>. Default <c>unix:///var/run/docker.sock</c>.</summary>
    public string DockerHost { get; set; } = "unix:///var/run/docker.sock";

    /// <summary>
    /// host:port at which workers reach Wharf's own registry. Default: derived from the address the server bound
    /// (localhost becomes 127.0.0.1); a <c>wharf worker</c> on another machine must set it.
    /// </summary>
    public string? RegistryAddress { get; set; }

    /// <summary>Registry hosts reached over plain HTTP besides loopback ones. Default none.</summary>
    public string[] InsecureRegistries { get; set; } = [];

    /// <summary>Automatic retries of a push after a transient failure (network, 5xx, 429). Default 3.</summary>
    public int PushRetries { get; set; } = 3;

    /// <summary>The first retry's delay; it doubles each time. Default 1 s.</summary>
    public TimeSpan PushRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The registry the DOCKERHUB_* settings push to. Default <c>docker.io</c>.</summary>
    public string DockerHubRegistry { get; set; } = "docker.io";

    /// <summary>Folder for sources, work folders and engine storage. Default <c>builds</c> in the data folder.</summary>
    public string? Path { get; set; }

    /// <summary>Builds this machine holds at once: its processors over <paramref name="cpuLimit"/>, its memory over <paramref name="memoryLimitMiB"/>, at least 1, at most 64.</summary>
    public static int DefaultWorkers(double cpuLimit, int memoryLimitMiB)
    {
        var byCpu = cpuLimit > 0 ? (int)Math.Floor(Environment.ProcessorCount / cpuLimit) : Environment.ProcessorCount;
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var byMemory = memory > 0 && memoryLimitMiB > 0 ? (int)Math.Min(int.MaxValue, memory / ((long)memoryLimitMiB * 1024 * 1024)) : byCpu;
        return Math.Clamp(Math.Min(byCpu, byMemory), 1, 64);
    }

    public IEnumerable<string> Validate()
    {
        if (!Engines.Contains(Engine, StringComparer.OrdinalIgnoreCase))
            yield return $"Wharf:Builds:Engine '{Engine}' is not known; allowed values: {string.Join(", ", Engines)}.";
        if (!Isolations.Contains(Isolation, StringComparer.OrdinalIgnoreCase))
            yield return $"Wharf:Builds:Isolation '{Isolation}' is not known; allowed values: {string.Join(", ", Isolations)}.";
        if (Workers is < 0 or > 64) yield return $"Wharf:Builds:Workers must be between 0 and 64 (was {Workers}).";
        if (BuildTimeout <= TimeSpan.Zero) yield return "Wharf:Builds:BuildTimeout must be positive.";
        if (QueueTimeToLive <= TimeSpan.Zero) yield return "Wharf:Builds:QueueTimeToLive must be positive.";
        if (MaxContextBytes <= 0) yield return "Wharf:Builds:MaxContextBytes must be positive.";
        if (MaxContextExpandedBytes <= 0) yield return "Wharf:Builds:MaxContextExpandedBytes must be positive.";
        if (MaxContextEntries <= 0) yield return "Wharf:Builds:MaxContextEntries must be positive.";
        if (MaxDockerfileBytes <= 0) yield return "Wharf:Builds:MaxDockerfileBytes must be positive.";
        if (MaxConcurrentPerNamespace <= 0) yield return "Wharf:Builds:MaxConcurrentPerNamespace must be positive.";
        if (LeaseDuration < TimeSpan.FromSeconds(1)) yield return "Wharf:Builds:LeaseDuration must be at least 1 s.";
        if (PollInterval <= TimeSpan.Zero) yield return "Wharf:Builds:PollInterval must be positive.";
        if (MemoryLimitMiB < 16) yield return "Wharf:Builds:MemoryLimitMiB must be at least 16.";
        if (MaxProcesses < 16) yield return $"Wharf:Builds:MaxProcesses must be at least 16 (was {MaxProcesses}).";
        if (!(CpuLimit >= 0.01 && CpuLimit <= 1024)) yield return $"Wharf:Builds:CpuLimit must be between 0.01 and 1024 CPUs (was {CpuLimit}).";
        if (MaxStorageBytes < 64L * 1024 * 1024) yield return "Wharf:Builds:MaxStorageBytes must be at least 64 MiB.";
        if (UserNamespaceStart is < 1 or > uint.MaxValue - 65536) yield return $"Wharf:Builds:UserNamespaceStart must be between 1 and {uint.MaxValue - 65536}.";
        if (UserNamespaceSize is < 1 or > 65536 * 16) yield return "Wharf:Builds:UserNamespaceSize must be between 1 and 1048576.";
        if (string.IsNullOrWhiteSpace(CgroupRoot) || CgroupRoot.Contains("..", StringComparison.Ordinal) || CgroupRoot.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/')))
            yield return $"Wharf:Builds:CgroupRoot '{CgroupRoot}' must be a cgroup path of letters, digits, '-', '_', '.' and '/'.";
        foreach (var entry in AllowedRegistries)
        {
            if (string.IsNullOrWhiteSpace(entry) || entry.Any(char.IsWhiteSpace)) yield return $"Wharf:Builds:AllowedRegistries: '{entry}' is not host[:port][/prefix] or *.domain.";
        }
        foreach (var entry in AllowedUrls)
        {
            if (string.IsNullOrWhiteSpace(entry) || entry.Any(char.IsWhiteSpace)) yield return $"Wharf:Builds:AllowedUrls: '{entry}' is not a URL prefix.";
        }
        if (PushRetries is < 0 or > 20) yield return "Wharf:Builds:PushRetries must be between 0 and 20.";
        if (PushRetryDelay < TimeSpan.Zero) yield return "Wharf:Builds:PushRetryDelay must not be negative.";
        if (!DockerHost.StartsWith("unix://", StringComparison.Ordinal))
            yield return $"Wharf:Builds:DockerHost '{DockerHost}' is not supported; allowed: unix:///path/to/docker.sock.";
    }
}
