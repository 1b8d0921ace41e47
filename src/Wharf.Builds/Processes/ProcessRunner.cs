using System.Diagnostics;
using System.Text;
using Wharf.Builds.Sandbox;

namespace Wharf.Builds.Processes;

/// <summary>How to run one engine process.</summary>
internal sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>The process's whole environment: nothing of the server's own environment is inherited.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Run inside this build's cgroup sandbox; cancelling then kills everything in it.</summary>
    public BuildSandbox? Sandbox { get; init; }

    /// <summary>With a sandbox: <c>unshare</c>, to give the process an empty network namespace (it reaches nothing).</summary>
    public string? NetworkIsolator { get; init; }
}

/// <summary>
/// Runs an engine's process without a shell of the user's, hands each line of its output (stdout and stderr) to a
/// callback as it comes, and kills it when the token is cancelled (timeouts, cancels): everything in its sandbox when
/// it has one, else its process tree.
/// </summary>
internal static class ProcessRunner
{
    /// <summary>The variables engine processes get besides those a caller sets: a search path and a locale.</summary>
    private static readonly KeyValuePair<string, string>[] BaseEnvironment =
    [
        new("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        new("LANG", "C.UTF-8"),
    ];

    public static async Task<int> RunAsync(ProcessSpec spec, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var (fileName, arguments) = spec.Sandbox is { } sandbox
            ? sandbox.Wrap(spec.FileName, spec.Arguments, spec.NetworkIsolator)
            : (spec.FileName, spec.Arguments);
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments) psi.ArgumentList.Add(argument);
        psi.Environment.Clear();
        foreach (var (key, value) in BaseEnvironment) psi.Environment[key] = value;
        foreach (var (key, value) in spec.Environment) psi.Environment[key] = value;
        using var process = new Process { StartInfo = psi };
        process.Start();
        process.StandardInput.Close();
        // One writer at a time: both pumps feed the same callback.
        using var gate = new SemaphoreSlim(1, 1);
        async Task PumpAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
            {
                await gate.WaitAsync(CancellationToken.None);
                try { await onLine(line); }
                finally { gate.Release(); }
            }
        }
        var stdout = PumpAsync(process.StandardOutput);
        var stderr = PumpAsync(process.StandardError);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            if (spec.Sandbox is { } toKill) await toKill.KillAllAsync(TimeSpan.FromSeconds(10));
            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None);
            throw;
        }
        finally
        {
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        return process.ExitCode;
    }

    /// <summary>Runs a process to completion and returns its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> CaptureAsync(ProcessSpec spec, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var code = await RunAsync(spec, line =>
        {
            output.AppendLine(line);
            return ValueTask.CompletedTask;
        }, cancellationToken);
        return (code, output.ToString());
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting while we killed it.
        }
    }
}
