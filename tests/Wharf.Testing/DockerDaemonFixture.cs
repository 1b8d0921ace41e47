using System.Diagnostics;
using System.Text;

namespace Wharf.Testing;

/// <summary>
/// A private Docker daemon for one test class or collection: <c>dockerd</c> with no bridge network,
/// no iptables, the vfs storage driver and every path in a short temp folder (/tmp/wd-XXXXXXXX), so it
/// neither needs nor touches the host's daemon. Registries on 127.0.0.0/8 are insecure by default for
/// dockerd, so pushing to a plain-HTTP registry on loopback needs no daemon.json.
/// Use as <c>IClassFixture&lt;DockerDaemonFixture&gt;</c> or through the
/// <see cref="DockerDaemonCollection"/> collection, then <c>await fixture.DockerCheckedAsync(["push", image], ct)</c>.
/// </summary>
public sealed class DockerDaemonFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly StringBuilder _log = new();
    private TempDirectory? _work;
    private Process? _daemon;

    /// <summary>"unix:///tmp/wd-XXXXXXXX/docker.sock", the value for <c>docker -H</c> or DOCKER_HOST.</summary>
    public string Host { get; private set; } = "";

    /// <summary>The client configuration folder (DOCKER_CONFIG): logins made by tests land here, not in ~/.docker.</summary>
    public string ConfigDirectory { get; private set; } = "";

    /// <summary>The daemon's folder (data root, exec root, socket, pid file).</summary>
    public string WorkDirectory => _work?.Path ?? "";

    /// <summary>What dockerd printed so far (for failure messages).</summary>
    public string DaemonLog
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        var dockerd = ExternalTool.RequireTool("dockerd");
        ExternalTool.RequireTool("docker");
        _work = TempDirectory.Create("wd");
        var socket = _work.Combine("docker.sock");
        Host = $"unix://{socket}";
        ConfigDirectory = _work.CreateSubdirectory("config");
        await File.WriteAllTextAsync(Path.Combine(ConfigDirectory, "config.json"), "{}\n");

        var psi = new ProcessStartInfo(dockerd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver=vfs",
            "--data-root", _work.Combine("root"), "--exec-root", _work.Combine("exec"),
            "--pidfile", _work.Combine("docker.pid"), "-H", Host,
            // Its own containerd instance under exec-root, never the host's.
            "--containerd-namespace", "wharf-tests", "--containerd-plugins-namespace", "wharf-tests-plugins",
        ])
        {
            psi.ArgumentList.Add(argument);
        }

        psi.Environment.Remove("DOCKER_HOST");
        _daemon = new Process { StartInfo = psi };
        void Append(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_log)
            {
                if (_log.Length > 256 * 1024)
                {
                    _log.Remove(0, 64 * 1024);
                }

                _log.AppendLine(e.Data);
            }
        }

        _daemon.OutputDataReceived += Append;
        _daemon.ErrorDataReceived += Append;
        _daemon.Start();
        _daemon.StandardInput.Close();
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();

        var stopwatch = Stopwatch.StartNew();
        ToolResult? last = null;
        while (stopwatch.Elapsed < StartTimeout)
        {
            if (_daemon.HasExited)
            {
                throw new InvalidOperationException($"dockerd exited with code {_daemon.ExitCode} during start-up.{Environment.NewLine}{DaemonLog}");
            }

            if (File.Exists(socket))
            {
                last = await DockerAsync(["info", "--format", "{{.ServerVersion}}"], CancellationToken.None);
                if (last.Succeeded)
                {
                    return;
                }
            }

            await Task.Delay(200);
        }

        throw new TimeoutException(
            $"dockerd did not answer 'docker info' within {StartTimeout.TotalSeconds:0} s.{Environment.NewLine}" +
            $"{last?.Describe()}{Environment.NewLine}--- dockerd log ---{Environment.NewLine}{DaemonLog}");
    }

    /// <summary>Runs the docker CLI against this daemon (<c>-H</c> and DOCKER_CONFIG set); returns whatever the exit code.</summary>
    public Task<ToolResult> DockerAsync(IEnumerable<string> arguments, CancellationToken ct, TimeSpan? timeout = null, string? standardInput = null)
        => ExternalTool.RunAsync("docker", ["-H", Host, .. arguments], Options(timeout, standardInput), ct);

    /// <summary>Runs the docker CLI against this daemon and throws unless it exits with 0.</summary>
    public Task<ToolResult> DockerCheckedAsync(IEnumerable<string> arguments, CancellationToken ct, TimeSpan? timeout = null, string? standardInput = null)
        => ExternalTool.RunCheckedAsync("docker", ["-H", Host, .. arguments], Options(timeout, standardInput), ct);

    /// <summary>Runs the docker CLI with these arguments and throws unless it exits with 0 (default timeout, no cancellation).</summary>
    public Task<ToolResult> Docker(params string[] arguments) => DockerCheckedAsync(arguments, CancellationToken.None);

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            if (!_daemon.HasExited)
            {
                // SIGTERM lets dockerd stop its containers and its own containerd; SIGKILL would orphan them.
                await ExternalTool.RunAsync("kill", ["-TERM", _daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                try
                {
                    await _daemon.WaitForExitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    ExternalTool.KillTree(_daemon);
                    await _daemon.WaitForExitAsync(CancellationToken.None);
                }
            }

            _daemon.Dispose();
        }

        if (_work is not null)
        {
            await KillLeftoverProcessesAsync(_work.Path);
            // vfs layers, container rootfs and shm mounts can outlive the daemon: unmount before deleting.
            await _work.DisposeAsync();
        }
    }

    private ToolRunOptions Options(TimeSpan? timeout, string? standardInput) => new()
    {
        Environment =
        {
            ["DOCKER_CONFIG"] = ConfigDirectory,
            ["DOCKER_HOST"] = null,
            ["DOCKER_CONTEXT"] = null,
            ["DOCKER_CLI_HINTS"] = "false",
        },
        Timeout = timeout,
        StandardInput = standardInput,
    };

    private static async Task KillLeftoverProcessesAsync(string workPath)
    {
        // containerd and its shims started by this daemon carry the work path in their command line.
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = (await File.ReadAllTextAsync(Path.Combine(dir, "cmdline"))).Replace('\0', ' ');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Contains(workPath + "/", StringComparison.Ordinal))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                }
            }
        }
    }
}

/// <summary>
/// The name of the collection whose tests share one daemon and run one after another. xunit needs the
/// <c>[CollectionDefinition]</c> class in each test assembly: declare
/// <c>[CollectionDefinition(DockerDaemonCollection.Name)] public sealed class DockerDaemonCollectionDefinition : ICollectionFixture&lt;DockerDaemonFixture&gt;;</c>
/// </summary>
public static class DockerDaemonCollection
{
    public const string Name = "Docker daemon";
}
