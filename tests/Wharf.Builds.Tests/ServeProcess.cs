using System.Diagnostics;
using System.Text;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// <c>wharf serve</c> as a process of its own (open mode, one worker, a free loopback port), so a test can kill it
/// with SIGKILL the way a crash would, and start another on the same data folder.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServeProcess(Process process, string dataDir, string hostPort)
    {
        _process = process;
        DataDir = dataDir;
        HostPort = hostPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://{hostPort}/"), Timeout = TimeSpan.FromMinutes(1) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string DataDir { get; }

    public string HostPort { get; }

    public HttpClient Http { get; }

    public int Pid => _process.Id;

    /// <summary>What the server printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public static async Task<ServeProcess> StartAsync(string dataDir, string buildTemp, CancellationToken ct, params string[] args)
    {
        var hostPort = $"127.0.0.1:{FreePort.Next()}";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "wharf.dll"), "serve", "--urls", $"http://{hostPort}", "--data-dir", dataDir,
                     "--Wharf:Auth:Mode=Open", "--Wharf:Builds:Workers=1", "--Wharf:Builds:PollInterval=00:00:00.200", $"--Wharf:Builds:TempPath={buildTemp}", .. args])
        {
            psi.ArgumentList.Add(arg);
        }
        var server = new ServeProcess(Process.Start(psi)!, dataDir, hostPort);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (server._process.HasExited) throw new InvalidOperationException("wharf serve exited:\n" + server.Output);
            try
            {
                using var health = await server.Http.GetAsync("healthz", ct);
                if (health.IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("wharf serve did not answer /healthz:\n" + server.Output);
            await Task.Delay(100, ct);
        }
    }

    /// <summary>SIGKILL to the server process alone: its children (the build's engine) are left as a crash leaves them.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
