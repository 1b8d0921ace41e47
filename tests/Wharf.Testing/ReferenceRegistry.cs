using System.Diagnostics;
using System.Text;

namespace Wharf.Testing;

/// <summary>Options for <see cref="ReferenceRegistry.StartAsync"/>.</summary>
public sealed record ReferenceRegistryOptions
{
    /// <summary>When set, the registry requires these credentials (htpasswd, bcrypt) for every request. Default: anonymous.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>Storage folder. Default: a fresh temp folder removed on dispose.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>
    /// When set, the registry takes only bearer tokens of this token server (Docker's token flow), instead of
    /// <see cref="Credentials"/>. Default: none.
    /// </summary>
    public ReferenceRegistryTokenAuth? TokenAuth { get; init; }

    /// <summary>Whether the registry writes its access log (one line per request, read back with <see cref="ReferenceRegistry.CountRequests"/>). Default: off.</summary>
    public bool AccessLog { get; init; }

    /// <summary>
    /// When set, the registry runs inside this network namespace (<c>ip netns exec</c>), on <see cref="Port"/>; the test
    /// reaches it only through processes it starts in the same namespace. Readiness is read from its log. Default: none.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The port, inside <see cref="NetworkNamespace"/> (a namespace of the test's own, where every port is free). Default: a free one.</summary>
    public int? Port { get; init; }

    /// <summary>How long to wait for GET /v2/ to answer. Default: 30 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Token authentication of the reference registry: the realm, service and issuer it names, and the PEM certificate bundle it trusts.</summary>
public sealed record ReferenceRegistryTokenAuth(string Realm, string Service, string Issuer, string RootCertificateBundle);

/// <summary>
/// The reference registry (Debian's <c>docker-registry</c>, CNCF Distribution 2.8) on 127.0.0.1 and a
/// free port, with filesystem storage in a temp folder and deletes enabled; optionally behind htpasswd
/// auth, as a stand-in for Docker Hub. Use: <c>await using var reg = await ReferenceRegistry.StartAsync(ct: ct);</c>
/// </summary>
public sealed class ReferenceRegistry : IRegistryEndpoint
{
    private readonly Process _process;
    private readonly TempDirectory _work;
    private readonly StringBuilder _log;

    private ReferenceRegistry(Process process, TempDirectory work, StringBuilder log, int port, string dataDirectory, RegistryCredentials? credentials)
    {
        _process = process;
        _work = work;
        _log = log;
        Port = port;
        DataDirectory = dataDirectory;
        Credentials = credentials;
    }

    public int Port { get; }

    public string HostPort => $"127.0.0.1:{Port}";

    public string BaseUrl => $"http://{HostPort}";

    public string DataDirectory { get; }

    public RegistryCredentials? Credentials { get; }

    /// <summary>What the registry printed so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<ReferenceRegistry> StartAsync(ReferenceRegistryOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ReferenceRegistryOptions();
        var binary = ExternalTool.RequireTool("docker-registry");
        var work = TempDirectory.Create("rr");
        try
        {
            var dataDirectory = options.DataDirectory ?? work.CreateSubdirectory("data");
            string? htpasswdPath = null;
            if (options.Credentials is { } creds)
            {
                var result = await ExternalTool.RunCheckedAsync("htpasswd", ["-Bbn", creds.UserName, creds.Password], cancellationToken: ct);
                htpasswdPath = work.Combine("htpasswd");
                await File.WriteAllTextAsync(htpasswdPath, result.StandardOutput.Trim() + "\n", ct);
            }

            // A port taken between FreePort.Next() and the registry's bind shows up as an early exit: retry.
            for (var attempt = 1; ; attempt++)
            {
                var port = options.Port ?? FreePort.Next();
                var configPath = work.Combine("config.yml");
                await File.WriteAllTextAsync(configPath, Config(dataDirectory, port, htpasswdPath, options), ct);
                var log = new StringBuilder();
                var process = StartProcess(binary, configPath, log, options.NetworkNamespace);
                var registry = new ReferenceRegistry(process, work, log, port, dataDirectory, options.Credentials);
                if (options.NetworkNamespace is null ? await registry.WaitUntilReadyAsync(options.StartTimeout, ct)
                    : await registry.WaitForLogAsync($"listening on 127.0.0.1:{port}", options.StartTimeout, ct))
                {
                    return registry;
                }

                ExternalTool.KillTree(process);
                await process.WaitForExitAsync(CancellationToken.None);
                process.Dispose();
                if (attempt >= 3)
                {
                    throw new InvalidOperationException(
                        $"docker-registry did not answer GET /v2/ on 127.0.0.1:{port}.{Environment.NewLine}{registry.Log}");
                }
            }
        }
        catch
        {
            await work.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        ExternalTool.KillTree(_process);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _process.Dispose();
        await _work.DisposeAsync();
    }

    /// <summary>
    /// How many requests of <paramref name="method"/> whose path contains <paramref name="pathFragment"/> the registry's
    /// access log shows (started with <see cref="ReferenceRegistryOptions.AccessLog"/>).
    /// </summary>
    public int CountRequests(string method, string pathFragment) =>
        Log.Split('\n').Count(line => line.Contains($"\"{method} ", StringComparison.Ordinal) && line.Contains(pathFragment, StringComparison.Ordinal)
            && !line.Contains("level=", StringComparison.Ordinal));

    private static string Config(string dataDirectory, int port, string? htpasswdPath, ReferenceRegistryOptions options)
    {
        var sb = new StringBuilder();
        sb.Append($"""
            version: 0.1
            log:
              level: {(options.NetworkNamespace is null ? "warn" : "info")}
              accesslog:
                disabled: {(options.AccessLog ? "false" : "true")}
            storage:
              filesystem:
                rootdirectory: {dataDirectory}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:{port}
              headers:
                X-Content-Type-Options: [nosniff]

            """);
        if (options.TokenAuth is { } token)
        {
            sb.Append($"""
                auth:
                  token:
                    realm: {token.Realm}
                    service: {token.Service}
                    issuer: {token.Issuer}
                    rootcertbundle: {token.RootCertificateBundle}

                """);
        }
        else if (htpasswdPath is not null)
        {
            sb.Append($"""
                auth:
                  htpasswd:
                    realm: wharf-test
                    path: {htpasswdPath}

                """);
        }

        return sb.ToString();
    }

    private async Task<bool> WaitForLogAsync(string line, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (Log.Contains(line, StringComparison.Ordinal)) return true;
            if (_process.HasExited) return false;
            await Task.Delay(50, ct);
        }
        return false;
    }

    private static Process StartProcess(string binary, string configPath, StringBuilder log, string? networkNamespace)
    {
        var psi = new ProcessStartInfo(networkNamespace is null ? binary : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (networkNamespace is not null)
        {
            foreach (var argument in (string[])["netns", "exec", networkNamespace, binary]) psi.ArgumentList.Add(argument);
        }
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(configPath);
        // REGISTRY_* variables override the config file: keep any from the environment out.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("REGISTRY_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        var process = new Process { StartInfo = psi };
        void Append(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (log)
            {
                if (log.Length < 4 * 1024 * 1024)
                {
                    log.AppendLine(e.Data);
                }
            }
        }

        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<bool> WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            ct.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                return false;
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"{BaseUrl}/v2/"), ct);
                // 200 anonymous, 401 with auth: either way the registry is serving.
                if (response.StatusCode is System.Net.HttpStatusCode.OK or System.Net.HttpStatusCode.Unauthorized)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }

            await Task.Delay(50, ct);
        }

        return false;
    }
}
