using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Processes;
using Wharf.Builds.Sources;
using Wharf.Core.Builds;

namespace Wharf.Builds.Buildah;

/// <summary>
/// Builds with <c>buildah bud</c>: storage (vfs) and the <c>--layers</c> cache per namespace under the builds folder,
/// OCI isolation under runc where the host allows it (probed once), else chroot; <c>--network none</c> unless allowed;
/// a memory limit; the timeout and cancels kill the process tree.
/// </summary>
public sealed partial class BuildahEngine(BuildPaths paths, BuildOptions options, ILogger<BuildahEngine> logger) : IBuildEngine
{
    private const string ProbePath = "/wharf-isolation-probe";
    private readonly SemaphoreSlim _probeGate = new(1, 1);
    private string[]? _isolation;

    public string Name => "buildah";

    public async Task<EngineResult> BuildAsync(EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var isolation = await IsolationAsync(cancellationToken);
        var work = Path.GetDirectoryName(request.ContextDirectory)!;
        var authFile = Path.Combine(work, "auth.json");
        var registriesConf = Path.Combine(work, "registries.conf");
        await RegistryAuthFiles.WriteAuthFileAsync(authFile, request.PullLogins, cancellationToken);
        await RegistryAuthFiles.WriteRegistriesConfAsync(registriesConf, request.InsecureRegistries, cancellationToken);
        List<string> args =
        [
            .. GlobalArguments(request.Namespace), "bud", .. isolation,
            "--layers", "--authfile", authFile,
            "--memory", $"{options.MemoryLimitMiB}m",
            "-f", Path.Combine(request.ContextDirectory, request.DockerfilePath),
            "-t", request.LocalImage,
        ];
        var chroot = isolation.Contains("chroot");
        if (!options.AllowNetwork && !chroot) args.AddRange(["--network", "none"]);
        if (!options.AllowNetwork && chroot)
        {
            // buildah refuses --network none with chroot isolation: RUN steps share the host's network there.
            await log.WriteAsync("Note: chroot isolation on this host cannot cut RUN steps off the network (OCI isolation under runc is not available).", cancellationToken);
        }
        foreach (var (name, value) in request.BuildArgs) args.AddRange(["--build-arg", $"{name}={value}"]);
        if (request.Target is { } target) args.AddRange(["--target", target]);
        if (request.Platform is { } platform) args.AddRange(["--platform", platform]);
        args.Add(request.ContextDirectory);
        await log.WriteAsync($"buildah bud ({string.Join(' ', isolation)}) -t {request.LocalImage}", cancellationToken);
        var code = await ProcessRunner.RunAsync("buildah", args, line => log.WriteAsync(line, cancellationToken), Environment(registriesConf), cancellationToken);
        return code == 0 ? EngineResult.Ok() : EngineResult.Fail($"buildah bud exited with code {code.ToString(CultureInfo.InvariantCulture)}; see the build log.");
    }

    public async Task<EngineResult> PushAsync(EnginePushRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var work = Path.Combine(paths.Root, "push", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
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
                .. GlobalArguments(request.Namespace), "push", "--retry", "1", "--retry-delay", "50ms", "--authfile", authFile, "--digestfile", digestFile,
                request.LocalImage, "docker://" + request.Destination,
            ];
            // buildah's own retries stay quick: Wharf retries transient failures with its own backoff (PushRetries, PushRetryDelay).
            if (request.Insecure) args.Insert(args.IndexOf("push") + 1, "--tls-verify=false");
            await log.WriteAsync($"buildah push {request.LocalImage} docker://{request.Destination}", cancellationToken);
            var output = new List<string>();
            var code = await ProcessRunner.RunAsync("buildah", args, async line =>
            {
                output.Add(line);
                await log.WriteAsync(line, cancellationToken);
            }, Environment(registriesConf), cancellationToken);
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
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    public async Task<bool> HasImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        var (code, _) = await ProcessRunner.CaptureAsync("buildah", [.. GlobalArguments(@namespace), "inspect", "--type", "image", localImage], cancellationToken);
        return code == 0;
    }

    public async Task RemoveImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        await ProcessRunner.CaptureAsync("buildah", [.. GlobalArguments(@namespace), "rmi", localImage], cancellationToken);
    }

    /// <summary>Network errors, 5xx and 429 are worth retrying; authentication and name errors are not.</summary>
    internal static bool IsTransient(string output) => TransientPattern().IsMatch(output);

    [GeneratedRegex(@"connection refused|connection reset|i/o timeout|broken pipe|unexpected EOF|TLS handshake timeout|no route to host|too many requests|\b(429|500|502|503|504)\b|server misbehaving", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TransientPattern();

    private static string LastLine(List<string> output) => output.LastOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "no output";

    private string[] GlobalArguments(string @namespace)
    {
        var storage = paths.Storage(@namespace);
        return ["--storage-driver", "vfs", "--root", Path.Combine(storage, "root"), "--runroot", Path.Combine(storage, "run")];
    }

    private static Dictionary<string, string> Environment(string registriesConf) => new()
    {
        ["CONTAINERS_REGISTRIES_CONF"] = registriesConf,
        ["BUILDAH_FORMAT"] = "oci",
    };

    /// <summary>The isolation arguments: configured, or probed once: OCI under runc when it can start a container here.</summary>
    private async Task<string[]> IsolationAsync(CancellationToken cancellationToken)
    {
        if (_isolation is { } known) return known;
        await _probeGate.WaitAsync(cancellationToken);
        try
        {
            if (_isolation is { } again) return again;
            string[] oci = ["--isolation", "oci", "--runtime", "runc", "--cgroup-manager", "cgroupfs"];
            string[] chroot = ["--isolation", "chroot"];
            _isolation = options.Isolation.ToUpperInvariant() switch
            {
                "OCI" => oci,
                "CHROOT" => chroot,
                _ => await ProbeOciAsync(cancellationToken) ? oci : chroot,
            };
            LogIsolation(logger, string.Join(' ', _isolation));
            return _isolation;
        }
        finally
        {
            _probeGate.Release();
        }
    }

    /// <summary>
    /// Runs a missing program in an empty container under runc: when runc got as far as exec (namespaces and cgroups
    /// worked), its error names the program; anything else means OCI isolation cannot run here.
    /// </summary>
    private async Task<bool> ProbeOciAsync(CancellationToken cancellationToken)
    {
        var global = GlobalArguments("_probe");
        var (fromCode, fromOutput) = await ProcessRunner.CaptureAsync("buildah", [.. global, "from", "--name", "wharf-probe-" + Guid.NewGuid().ToString("N")[..8], "scratch"], cancellationToken);
        if (fromCode != 0)
        {
            LogProbeFailed(logger, fromOutput);
            return false;
        }
        var container = fromOutput.Trim().Split('\n').Last().Trim();
        try
        {
            var (_, output) = await ProcessRunner.CaptureAsync("buildah",
                [.. global, "run", "--isolation", "oci", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--network", "none", container, "--", ProbePath], cancellationToken);
            var works = output.Contains($"stat {ProbePath}: no such file or directory", StringComparison.Ordinal)
                || output.Contains($"exec: \"{ProbePath}\"", StringComparison.Ordinal);
            if (!works) LogProbeFailed(logger, output);
            return works;
        }
        finally
        {
            await ProcessRunner.CaptureAsync("buildah", [.. global, "rm", container], CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "buildah isolation: {Isolation}")]
    private static partial void LogIsolation(ILogger logger, string isolation);

    [LoggerMessage(Level = LogLevel.Information, Message = "OCI isolation under runc is not available here; using chroot. Probe output: {Output}")]
    private static partial void LogProbeFailed(ILogger logger, string output);
}
