using System.Collections.Concurrent;
using System.Diagnostics;

namespace Wharf.Testing;

/// <summary>
/// A real <c>wharf serve</c> in its own process (<c>dotnet wharf.dll</c>, from the test's output folder) on a free
/// loopback port, with its standard output kept line by line. <see cref="KillAsync"/> is kill -9: nothing is flushed,
/// nothing is given back. <see cref="RestartAsync"/> starts a new process on the same folder and port.
/// The test project must reference <c>Wharf.Cli</c> so that <c>wharf.dll</c> sits beside it.
/// </summary>
public sealed class WharfProcess : IAsyncDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");
    private readonly string[] _args;
    private readonly ConcurrentQueue<string> _lines = new();
    private Process _process;

    private WharfProcess(Process process, string dataDir, int port, string[] args)
    {
        _process = process;
        DataDir = dataDir;
        Port = port;
        _args = args;
        Attach(process);
    }

    public string DataDir { get; }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public string HostPort => $"127.0.0.1:{Port}";

    /// <summary>Every line the process wrote to standard output or standard error so far, across restarts.</summary>
    public IReadOnlyList<string> Lines => _lines.ToArray();

    public HttpClient CreateClient() => new() { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(1) };

    /// <summary>Starts <c>wharf serve --urls http://127.0.0.1:PORT --data-dir DIR</c> plus <paramref name="args"/> and waits for <c>/healthz</c>.</summary>
    public static async Task<WharfProcess> StartAsync(string dataDir, IReadOnlyList<string> args, CancellationToken ct)
    {
        var port = FreePort.Next();
        var process = Launch(dataDir, port, args);
        var wharf = new WharfProcess(process, dataDir, port, [.. args]);
        try
        {
            await wharf.WaitUntilServingAsync(ct);
            return wharf;
        }
        catch
        {
            await wharf.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9 of the server process.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Starts the server again on the same data folder, port and arguments (after <see cref="KillAsync"/>).</summary>
    public async Task RestartAsync(CancellationToken ct)
    {
        await KillAsync();
        _process.Dispose();
        _process = Launch(DataDir, Port, _args);
        Attach(_process);
        await WaitUntilServingAsync(ct);
    }

    private static Process Launch(string dataDir, int port, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[Dll, "serve", "--urls", $"http://127.0.0.1:{port}", "--data-dir", dataDir, "--workers", "0", .. args])
        {
            psi.ArgumentList.Add(arg);
        }
        psi.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start wharf");
    }

    private void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private async Task WaitUntilServingAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(90));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"wharf serve exited with {_process.ExitCode}:\n{string.Join('\n', _lines)}");
            }
            try
            {
                using var response = await http.GetAsync($"{BaseUrl}/healthz", limit.Token);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!limit.IsCancellationRequested)
            {
                // One probe timed out.
            }
            await Task.Delay(100, limit.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        _process.Dispose();
    }
}
