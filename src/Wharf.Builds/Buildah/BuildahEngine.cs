using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Processes;
using Wharf.Builds.Sandbox;
using Wharf.Builds.Sources;
using Wharf.Core.Builds;
using Wharf.Core.Builds.Dockerfiles;

namespace Wharf.Builds.Buildah;

/// <summary>
/// Builds with <c>buildah bud</c>. Storage (vfs), the <c>--layers</c> cache and cache mounts are per namespace
/// (<see cref="BuildahStorage"/>), shifted into a user namespace so root in a build is an unprivileged uid on the host.
/// Each build runs in its cgroup sandbox (process, CPU and memory limits; killed whole on timeout or cancel); the
/// images it names are pulled first, with the owner's credential, and the build itself pulls nothing and, when no URL
/// may be fetched, runs in an empty network namespace. OCI isolation under runc where the host allows it (probed
/// once), chroot only when the operator chooses it. Working containers and temporary folders are removed after every
/// outcome.
/// </summary>
public sealed partial class BuildahEngine : IBuildEngine
{
    private const string ProbePath = "/wharf-isolation-probe";
    private static readonly TimeSpan MonitorInterval = TimeSpan.FromMilliseconds(250);
    private readonly SemaphoreSlim _probeGate = new(1, 1);
    private readonly BuildPaths _paths;
    private readonly BuildOptions _options;
    private readonly BuildSandboxes _sandboxes;
    private readonly BuildahStorage _storage;
    private readonly ILogger<BuildahEngine> _logger;
    private string[]? _isolation;

    public BuildahEngine(BuildPaths paths, BuildOptions options, BuildSandboxes sandboxes, ILogger<BuildahEngine> logger)
    {
        _paths = paths;
        _options = options;
        _sandboxes = sandboxes;
        _logger = logger;
        _storage = new BuildahStorage(paths, options);
    }

    public string Name => "buildah";

    public async Task<EngineResult> BuildAsync(EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var isolation = await IsolationAsync(cancellationToken);
        if (isolation is null)
        {
            return EngineResult.Fail("OCI isolation under runc does not work on this host, and Wharf:Builds:Isolation is not set to Chroot; see the server log.");
        }
        await _storage.PrepareAsync(request.Namespace, cancellationToken);
        await ClearCacheIfFullAsync(request.Namespace, log, cancellationToken);
        await using var shared = await _storage.LockSharedAsync(request.Namespace, cancellationToken);
        var authFile = Path.Combine(request.WorkDirectory, "auth.json");
        var registriesConf = Path.Combine(request.WorkDirectory, "registries.conf");
        await RegistryAuthFiles.WriteAuthFileAsync(authFile, request.PullLogins, cancellationToken);
        await RegistryAuthFiles.WriteRegistriesConfAsync(registriesConf, request.InsecureRegistries, cancellationToken);
        var sandbox = _sandboxes.Create(request.BuildId);
        try
        {
            if (sandbox is null) await log.WriteAsync($"Note: this host cannot sandbox builds ({_sandboxes.UnavailableReason}); limits are not enforced.", cancellationToken);

            // Every image the Dockerfile names, pulled now with the owner's credential (permissions as they are now).
            var configs = new Dictionary<string, BaseImageInfo>(StringComparer.Ordinal);
            foreach (var image in request.Images)
            {
                await log.WriteAsync($"Pulling {image.Reference}", cancellationToken);
                List<string> pull = [.. _storage.GlobalArguments(request.Namespace), "pull", "--policy", "always", "--quiet", "--authfile", authFile];
                if (request.Platform is { } pullPlatform) pull.AddRange(["--platform", pullPlatform]);
                pull.Add("docker://" + image.Reference);
                var output = new List<string>();
                var pulled = await ProcessRunner.RunAsync(Spec(pull, request.Namespace, registriesConf, sandbox), line =>
                {
                    output.Add(line);
                    return log.WriteAsync(line, cancellationToken);
                }, cancellationToken);
                // The same words whether the image is missing or only closed to the owner: the log has the registry's answer.
                if (pulled != 0) return EngineResult.Fail($"Pulling an image for {image.Instruction} failed; see the build log.");
                configs[image.Reference] = await InspectAsync(request.Namespace, image.Reference, cancellationToken);
            }
            if (request.ReviewWithImages(configs) is { } refusal)
            {
                await log.WriteAsync("Refused: " + refusal, cancellationToken);
                return EngineResult.Fail(refusal);
            }

            var dockerfile = Path.Combine(request.WorkDirectory, "Dockerfile");
            await File.WriteAllTextAsync(dockerfile, MapCacheMounts(await File.ReadAllTextAsync(Path.Combine(request.ContextDirectory, request.DockerfilePath), cancellationToken)), cancellationToken);
            List<string> args =
            [
                .. _storage.GlobalArguments(request.Namespace), "bud", .. isolation,
                "--layers", "--pull-never", "-f", dockerfile, "-t", request.LocalImage,
            ];
            if (sandbox is not null) args.AddRange(["--cgroup-parent", sandbox.StepCgroup]);
            else args.AddRange(["--memory", $"{_options.MemoryLimitMiB.ToString(CultureInfo.InvariantCulture)}m"]);
            var chroot = isolation.Contains("chroot");
            if (!_options.AllowNetwork && !chroot) args.AddRange(["--network", "none"]);
            if (!_options.AllowNetwork && chroot)
            {
                // buildah refuses --network none with chroot isolation: RUN steps share the engine's network there.
                await log.WriteAsync("Note: chroot isolation (Wharf:Builds:Isolation=Chroot) cannot cut RUN steps off the network.", cancellationToken);
            }
            var environment = _storage.Environment(request.Namespace, registriesConf);
            foreach (var (name, value) in request.BuildArgs)
            {
                // Passed through the environment, never on the command line (which every local user can read), unless
                // the name is one the engine itself reads.
                if (IsEngineVariable(name)) args.AddRange(["--build-arg", $"{name}={value}"]);
                else
                {
                    args.AddRange(["--build-arg", name]);
                    environment[name] = value;
                }
            }
            foreach (var secret in request.Secrets) args.AddRange(["--secret", $"id={secret.Id},src={secret.Path}"]);
            if (request.Target is { } target) args.AddRange(["--target", target]);
            if (request.Platform is { } platform) args.AddRange(["--platform", platform]);
            args.Add(request.ContextDirectory);
            await log.WriteAsync($"buildah bud ({string.Join(' ', isolation)}) -t {request.LocalImage}", cancellationToken);

            using var limitStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            string? limit = null;
            var monitor = MonitorAsync(request.Namespace, sandbox, hit =>
            {
                limit ??= hit;
                limitStop.Cancel();
            }, limitStop.Token);
            int code;
            try
            {
                code = await ProcessRunner.RunAsync(Spec(args, request.Namespace, registriesConf, sandbox) with
                {
                    Environment = environment,
                    NetworkIsolator = request.IsolateNetwork ? _sandboxes.NetworkIsolator : null,
                }, line => log.WriteAsync(line, cancellationToken), limitStop.Token);
            }
            catch (OperationCanceledException) when (limit is not null && !cancellationToken.IsCancellationRequested)
            {
                code = -1;
            }
            finally
            {
                await limitStop.CancelAsync();
                await monitor.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            limit ??= sandbox?.LimitReached() switch
            {
                SandboxLimit.Processes => nameof(BuildOptions.MaxProcesses),
                SandboxLimit.Memory => nameof(BuildOptions.MemoryLimitMiB),
                _ => null,
            };
            if (sandbox?.CpuTime() is { } cpu) await log.WriteAsync($"CPU time used: {cpu.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s (limit {_options.CpuLimit.ToString(CultureInfo.InvariantCulture)} CPUs)", CancellationToken.None);
            if (limit is not null) return EngineResult.LimitReached(limit, LimitMessage(limit));
            return code == 0 ? EngineResult.Ok() : EngineResult.Fail($"buildah bud exited with code {code.ToString(CultureInfo.InvariantCulture)}; see the build log.");
        }
        finally
        {
            if (sandbox is not null) await sandbox.DisposeAsync();
            await shared.DisposeAsync();
            await CleanUpAsync(request.Namespace);
        }
    }

    public async Task<EngineResult> PushAsync(EnginePushRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var work = _paths.Work(request.BuildId);
        OwnerOnly.CreateDirectory(_paths.WorkRoot);
        OwnerOnly.CreateDirectory(work);
        await _storage.PrepareAsync(request.Namespace, cancellationToken);
        await using var shared = await _storage.LockSharedAsync(request.Namespace, cancellationToken);
        var sandbox = _sandboxes.Create(request.BuildId);
        try
        {
            var authFile = Path.Combine(work, "auth.json");
            var digestFile = Path.Combine(work, "digest");
            var registriesConf = Path.Combine(work, "registries.conf");
            var host = request.Destination[..request.Destination.IndexOf('/', StringComparison.Ordinal)];
            await RegistryAuthFiles.WriteAuthFileAsync(authFile, request.Login is { } login ? [login] : [], cancellationToken);
            await RegistryAuthFiles.WriteRegistriesConfAsync(registriesConf, request.Insecure ? [host] : [], cancellationToken);
            List<string> args =
            [
                .. _storage.GlobalArguments(request.Namespace), "push", "--retry", "1", "--retry-delay", "50ms", "--authfile", authFile, "--digestfile", digestFile,
                request.LocalImage, "docker://" + request.Destination,
            ];
            // buildah's own retries stay quick: Wharf retries transient failures with its own backoff (PushRetries, PushRetryDelay).
            if (request.Insecure) args.Insert(args.IndexOf("push") + 1, "--tls-verify=false");
            await log.WriteAsync($"buildah push {request.LocalImage} docker://{request.Destination}", cancellationToken);
            var output = new List<string>();
            var code = await ProcessRunner.RunAsync(Spec(args, request.Namespace, registriesConf, sandbox), async line =>
            {
                output.Add(line);
                await log.WriteAsync(line, cancellationToken);
            }, cancellationToken);
            if (code == 0)
            {
                var digest = File.Exists(digestFile) ? (await File.ReadAllTextAsync(digestFile, cancellationToken)).Trim() : null;
                return EngineResult.Ok(digest);
            }
            var text = string.Join('\n', output.TakeLast(20));
            return EngineResult.Fail($"buildah push exited with code {code.ToString(CultureInfo.InvariantCulture)}: {LastLine(output)}", IsTransient(text));
        }
        finally
        {
            if (sandbox is not null) await sandbox.DisposeAsync();
            BuildahStorage.DeleteTree(work);
        }
    }

    public async Task<bool> HasImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        await _storage.PrepareAsync(@namespace, cancellationToken);
        var (code, _) = await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "inspect", "--type", "image", localImage], @namespace, null, null), cancellationToken);
        return code == 0;
    }

    public async Task RemoveImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "rmi", localImage], @namespace, null, null), cancellationToken);
    }

    /// <summary>Removes working containers and temporary folders of every namespace no build on this host is using.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_paths.StorageRoot)) return;
        foreach (var folder in Directory.EnumerateDirectories(_paths.StorageRoot))
        {
            await CleanUpAsync(Path.GetFileName(folder));
        }
    }

    /// <summary>Network errors, 5xx and 429 are worth retrying; authentication and name errors are not.</summary>
    internal static bool IsTransient(string output) => TransientPattern().IsMatch(output);

    [GeneratedRegex(@"connection refused|connection reset|i/o timeout|broken pipe|unexpected EOF|TLS handshake timeout|no route to host|too many requests|\b(429|500|502|503|504)\b|server misbehaving", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TransientPattern();

    /// <summary>Build arguments the engine would read as its own settings if passed through the environment.</summary>
    internal static bool IsEngineVariable(string name)
    {
        var upper = name.ToUpperInvariant();
        string[] exact = ["PATH", "HOME", "TMPDIR", "TMP", "TEMP", "LANG", "TZ", "SHELL", "USER", "LOGNAME", "PWD", "TERM", "NOTIFY_SOCKET", "REGISTRY_AUTH_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR"];
        string[] prefixes = ["LC_", "XDG_", "CONTAINERS_", "BUILDAH_", "STORAGE_", "DOCKER_", "GO", "_CONTAINERS", "DBUS_", "PODMAN_", "CNI_", "RUNC_"];
        return exact.Contains(upper, StringComparer.Ordinal) || prefixes.Any(p => upper.StartsWith(p, StringComparison.Ordinal)) || upper.EndsWith("_PROXY", StringComparison.Ordinal);
    }

    private static string LastLine(List<string> output) => output.LastOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "no output";

    private string LimitMessage(string limit) => limit switch
    {
        nameof(BuildOptions.MaxProcesses) => $"The build ran into its process limit (Wharf:Builds:MaxProcesses = {_options.MaxProcesses.ToString(CultureInfo.InvariantCulture)}) and was stopped.",
        nameof(BuildOptions.MemoryLimitMiB) => $"The build ran out of memory (Wharf:Builds:MemoryLimitMiB = {_options.MemoryLimitMiB.ToString(CultureInfo.InvariantCulture)}) and was stopped.",
        nameof(BuildOptions.MaxStorageBytes) => $"The build filled its namespace's build storage beyond the limit (Wharf:Builds:MaxStorageBytes = {_options.MaxStorageBytes.ToString(CultureInfo.InvariantCulture)} bytes) and was stopped.",
        _ => $"The build ran into the limit {limit}.",
    };

    private ProcessSpec Spec(IReadOnlyList<string> args, string @namespace, string? registriesConf, BuildSandbox? sandbox) =>
        new("buildah", args) { Environment = _storage.Environment(@namespace, registriesConf), Sandbox = sandbox };

    /// <summary>Watches the sandbox's counters and the namespace's disk use while a build runs; calls <paramref name="hit"/> with the limit's name.</summary>
    private async Task MonitorAsync(string @namespace, BuildSandbox? sandbox, Action<string> hit, CancellationToken cancellationToken)
    {
        try
        {
            // Counters are cheap to read (often, so a short-lived step's are not missed); walking the storage is not.
            for (var tick = 1; !cancellationToken.IsCancellationRequested; tick++)
            {
                await Task.Delay(MonitorInterval, cancellationToken);
                switch (sandbox?.LimitReached())
                {
                    case SandboxLimit.Processes:
                        hit(nameof(BuildOptions.MaxProcesses));
                        return;
                    case SandboxLimit.Memory:
                        hit(nameof(BuildOptions.MemoryLimitMiB));
                        return;
                }
                if (tick % 8 == 0 && _storage.SizeOf(@namespace) > _options.MaxStorageBytes)
                {
                    hit(nameof(BuildOptions.MaxStorageBytes));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>When the namespace's storage is over its limit and no build uses it, clears its layer cache and cache mounts.</summary>
    private async Task ClearCacheIfFullAsync(string @namespace, IBuildLog log, CancellationToken cancellationToken)
    {
        if (_storage.SizeOf(@namespace) <= _options.MaxStorageBytes) return;
        using var exclusive = _storage.TryLock(@namespace, exclusive: true);
        if (exclusive is null) return;
        await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "rm", "--all"], @namespace, null, null), cancellationToken);
        await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "rmi", "--all", "--force"], @namespace, null, null), cancellationToken);
        _storage.RemoveCacheMounts(@namespace);
        _storage.RemoveTemporaryLeftovers(@namespace);
        await log.WriteAsync("The namespace's build storage was over Wharf:Builds:MaxStorageBytes: its layer cache and cache mounts were cleared.", cancellationToken);
    }

    /// <summary>
    /// Removes the namespace's working containers (a killed or failed build leaves full vfs copies) and buildah's
    /// temporary folders, when no build on this host is using the namespace; the layer cache stays.
    /// </summary>
    private async Task CleanUpAsync(string @namespace)
    {
        try
        {
            using var exclusive = _storage.TryLock(@namespace, exclusive: true);
            if (exclusive is null) return; // another build of the namespace runs; the last one to finish cleans up
            await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "rm", "--all"], @namespace, null, null), CancellationToken.None);
            _storage.RemoveTemporaryLeftovers(@namespace);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            LogCleanUpFailed(_logger, @namespace, e);
        }
    }

    /// <summary>
    /// Cache mounts are made by buildah with the uid/gid the Dockerfile gives (default 0) as host ids, which a user
    /// namespace cannot write: shift them into the build's range, so root in the build owns its cache.
    /// </summary>
    internal string MapCacheMounts(string dockerfile)
    {
        if (!_storage.MapsUsers || !dockerfile.Contains("type=cache", StringComparison.OrdinalIgnoreCase)) return dockerfile;
        var document = DockerfileDocument.Parse(dockerfile);
        var rewrites = new Dictionary<DockerfileInstruction, string>();
        foreach (var instruction in document.Instructions.Where(i => i.Keyword == "RUN"))
        {
            var flags = instruction.Flags.ToList();
            var changed = false;
            for (var f = 0; f < flags.Count; f++)
            {
                if (!flags[f].StartsWith("--mount=", StringComparison.OrdinalIgnoreCase)) continue;
                var options = flags[f]["--mount=".Length..].Split(',').Select(o => o.Split('=', 2)).ToList();
                if (!options.Any(o => o[0].Equals("type", StringComparison.OrdinalIgnoreCase) && o.Length == 2 && o[1].Equals("cache", StringComparison.OrdinalIgnoreCase))) continue;
                long Id(string key) => options.FirstOrDefault(o => o[0].Equals(key, StringComparison.OrdinalIgnoreCase)) is { Length: 2 } kv
                    && long.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v < _options.UserNamespaceSize ? v : 0;
                var uid = _storage.HostRoot + Id("uid");
                var gid = _storage.HostRoot + Id("gid");
                var kept = options.Where(o => !o[0].Equals("uid", StringComparison.OrdinalIgnoreCase) && !o[0].Equals("gid", StringComparison.OrdinalIgnoreCase)).Select(o => string.Join('=', o));
                flags[f] = "--mount=" + string.Join(',', [.. kept, $"uid={uid.ToString(CultureInfo.InvariantCulture)}", $"gid={gid.ToString(CultureInfo.InvariantCulture)}"]);
                changed = true;
            }
            if (changed) rewrites[instruction] = instruction.Render(flags);
        }
        return rewrites.Count == 0 ? dockerfile : document.Render(rewrites);
    }

    private async Task<BaseImageInfo> InspectAsync(string @namespace, string reference, CancellationToken cancellationToken)
    {
        var (code, output) = await ProcessRunner.CaptureAsync(Spec([.. _storage.GlobalArguments(@namespace), "inspect", "--type", "image", reference], @namespace, null, null), cancellationToken);
        if (code != 0) return new BaseImageInfo([], []);
        try
        {
            using var json = JsonDocument.Parse(output);
            var root = json.RootElement;
            static IReadOnlyList<string> Strings(JsonElement element, string section, string name) =>
                element.TryGetProperty(section, out var s) && s.TryGetProperty("config", out var c) && c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                    ? v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
                    : [];
            var env = Strings(root, "OCIv1", "Env");
            return new BaseImageInfo(env.Count > 0 ? env : Strings(root, "Docker", "Env"), Strings(root, "Docker", "OnBuild"));
        }
        catch (JsonException)
        {
            return new BaseImageInfo([], []);
        }
    }

    /// <summary>The isolation arguments: configured, or probed once; null when OCI isolation does not work and chroot was not chosen.</summary>
    private async Task<string[]?> IsolationAsync(CancellationToken cancellationToken)
    {
        if (_isolation is { } known) return known.Length == 0 ? null : known;
        await _probeGate.WaitAsync(cancellationToken);
        try
        {
            if (_isolation is { } again) return again.Length == 0 ? null : again;
            string[] oci = ["--isolation", "oci", "--runtime", "runc", "--cgroup-manager", "cgroupfs"];
            string[] chroot = ["--isolation", "chroot"];
            _isolation = _options.Isolation.ToUpperInvariant() switch
            {
                "OCI" => oci,
                "CHROOT" => chroot,
                _ => await ProbeOciAsync(cancellationToken) ? oci : [],
            };
            LogIsolation(_logger, _isolation.Length == 0 ? "none: builds fail until Wharf:Builds:Isolation=Chroot is set" : string.Join(' ', _isolation));
            return _isolation.Length == 0 ? null : _isolation;
        }
        finally
        {
            _probeGate.Release();
        }
    }

    /// <summary>
    /// Runs a missing program in an empty container under runc, in the user namespace builds get: when runc got as far
    /// as exec (namespaces and cgroups worked), its error names the program; anything else means OCI isolation cannot
    /// run here.
    /// </summary>
    private async Task<bool> ProbeOciAsync(CancellationToken cancellationToken)
    {
        const string probe = "_probe";
        await _storage.PrepareAsync(probe, cancellationToken);
        var global = _storage.GlobalArguments(probe);
        var (fromCode, fromOutput) = await ProcessRunner.CaptureAsync(Spec([.. global, "from", "--name", "wharf-probe-" + Guid.NewGuid().ToString("N")[..8], "scratch"], probe, null, null), cancellationToken);
        if (fromCode != 0)
        {
            LogProbeFailed(_logger, fromOutput);
            return false;
        }
        var container = fromOutput.Trim().Split('\n').Last().Trim();
        try
        {
            var (_, output) = await ProcessRunner.CaptureAsync(Spec(
                [.. global, "run", "--isolation", "oci", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--network", "none", container, "--", ProbePath], probe, null, null), cancellationToken);
            var works = output.Contains($"stat {ProbePath}: no such file or directory", StringComparison.Ordinal)
                || output.Contains($"exec: \"{ProbePath}\"", StringComparison.Ordinal);
            if (!works) LogProbeFailed(_logger, output);
            return works;
        }
        finally
        {
            await ProcessRunner.CaptureAsync(Spec([.. global, "rm", container], probe, null, null), CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "buildah isolation: {Isolation}")]
    private static partial void LogIsolation(ILogger logger, string isolation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OCI isolation under runc is not available here, so builds cannot run isolated; set Wharf:Builds:Isolation=Chroot to build with chroot isolation (RUN steps then share the network). Probe output: {Output}")]
    private static partial void LogProbeFailed(ILogger logger, string output);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cleaning up the build storage of namespace {Namespace} failed")]
    private static partial void LogCleanUpFailed(ILogger logger, string @namespace, Exception exception);
}
