using System.Diagnostics;
using System.Text;

namespace Wharf.Testing;

/// <summary>Options for one <see cref="ExternalTool"/> run.</summary>
public sealed class ToolRunOptions
{
    /// <summary>Extra environment variables; a null value removes the variable. Default: none.</summary>
    public IDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>Working directory. Default: the current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Time after which the process tree is killed. Default: <see cref="ExternalTool.DefaultTimeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Text written to the tool's standard input, which is then closed. Default: empty input.</summary>
    public string? StandardInput { get; init; }
}

/// <summary>Outcome of one external tool run.</summary>
public sealed record ToolResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws <see cref="ExternalToolException"/> with the command line and output unless the exit code is 0.</summary>
    public ToolResult EnsureSuccess()
    {
        if (!Succeeded)
        {
            throw new ExternalToolException($"Command failed with exit code {ExitCode}.{System.Environment.NewLine}{Describe()}");
        }

        return this;
    }

    /// <summary>The command line, exit code and both output streams, for failure messages.</summary>
    public string Describe() => ExternalTool.Describe(CommandLine, ExitCode, StandardOutput, StandardError, Elapsed);
}

public sealed class ExternalToolException(string message) : Exception(message);

/// <summary>
/// Runs external programs (skopeo, buildah, docker, …) without a shell, with a timeout and
/// cancellation, capturing both output streams. Missing tools fail the test (in CI a missing
/// client is a failure, not a skip).
/// </summary>
public static class ExternalTool
{
    /// <summary>Default time limit for one command: 3 minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    private static readonly string[] ExtraSearchDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

    /// <summary>Full path of <paramref name="name"/> on PATH (or the usual sbin folders), or null.</summary>
    public static string? FindTool(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        }

        var path = System.Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraSearchDirectories))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Full path of the tool; fails the test (never skips) when it is not installed.</summary>
    public static string RequireTool(string name)
    {
        var found = FindTool(name);
        if (found is null)
        {
            Assert.Fail($"Required tool '{name}' is not installed (not on PATH nor in the sbin folders). " +
                        "Run ./scripts/test, which installs the system packages the tests use.");
        }

        return found!;
    }

    /// <summary>Runs the tool and returns its result whatever the exit code.</summary>
    public static async Task<ToolResult> RunAsync(string tool, IEnumerable<string> arguments, ToolRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ToolRunOptions();
        var fileName = RequireTool(tool);
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        if (options.WorkingDirectory is not null)
        {
            psi.WorkingDirectory = options.WorkingDirectory;
        }

        foreach (var (key, value) in options.Environment)
        {
            if (value is null)
            {
                psi.Environment.Remove(key);
            }
            else
            {
                psi.Environment[key] = value;
            }
        }

        var commandLine = FormatCommandLine(tool, psi.ArgumentList);
        var timeout = options.Timeout ?? DefaultTimeout;
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new ExternalToolException($"Could not start: {commandLine}{System.Environment.NewLine}{ex.Message}");
        }

        var stdoutTask = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderrTask = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            if (options.StandardInput is not null)
            {
                await process.StandardInput.WriteAsync(options.StandardInput.AsMemory(), cancellationToken);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The tool exited without reading its input; its exit code tells the rest.
        }

        using var timeoutCts = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            var (partialOut, partialErr) = await DrainAsync(stdoutTask, stderrTask);
            var description = Describe(commandLine, null, partialOut, partialErr, stopwatch.Elapsed);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"Cancelled, process killed.{System.Environment.NewLine}{description}", cancellationToken);
            }

            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s, process killed.{System.Environment.NewLine}{description}");
        }

        var (stdout, stderr) = await DrainAsync(stdoutTask, stderrTask);
        return new ToolResult(commandLine, process.ExitCode, stdout, stderr, stopwatch.Elapsed);
    }

    /// <summary>Runs the tool and throws <see cref="ExternalToolException"/> unless it exits with 0.</summary>
    public static async Task<ToolResult> RunCheckedAsync(string tool, IEnumerable<string> arguments, ToolRunOptions? options = null, CancellationToken cancellationToken = default)
        => (await RunAsync(tool, arguments, options, cancellationToken)).EnsureSuccess();

    /// <summary>A shell-like rendering of a command line, for messages only (never executed).</summary>
    public static string FormatCommandLine(string tool, IEnumerable<string> arguments)
    {
        var sb = new StringBuilder(tool);
        foreach (var argument in arguments)
        {
            sb.Append(' ');
            sb.Append(Quote(argument));
        }

        return sb.ToString();
    }

    internal static string Describe(string commandLine, int? exitCode, string stdout, string stderr, TimeSpan elapsed)
    {
        var nl = System.Environment.NewLine;
        return $"$ {commandLine}{nl}" +
               $"exit code: {(exitCode is { } code ? code.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(killed)")}, {elapsed.TotalSeconds:0.0} s{nl}" +
               $"--- stdout ---{nl}{Tail(stdout)}{nl}--- stderr ---{nl}{Tail(stderr)}";
    }

    internal static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Already gone, or not ours to kill.
        }
    }

    private static async Task<(string Stdout, string Stderr)> DrainAsync(Task<string> stdoutTask, Task<string> stderrTask)
    {
        // A grandchild that inherited the pipes could keep them open: do not wait forever.
        var both = Task.WhenAll(stdoutTask, stderrTask);
        await Task.WhenAny(both, Task.Delay(TimeSpan.FromSeconds(10)));
        return (Completed(stdoutTask), Completed(stderrTask));

        static string Completed(Task<string> task) => task.IsCompletedSuccessfully ? task.Result : "(output not available)";
    }

    private static string Tail(string text, int max = 8000)
        => text.Length <= max ? text.TrimEnd() : "…" + text[^max..].TrimEnd();

    private static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%".Contains(c, StringComparison.Ordinal)))
        {
            return argument;
        }

        return "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
