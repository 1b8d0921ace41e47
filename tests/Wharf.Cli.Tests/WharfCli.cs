using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>The outcome of one <c>wharf</c> run.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error, string CommandLine)
{
    public JsonNode Json => JsonNode.Parse(Output) ?? throw new InvalidOperationException("empty output");

    public string Describe() => $"$ {CommandLine}\nexit {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";

    public CliResult EnsureSuccess() => ExitCode == 0 ? this : throw new Xunit.Sdk.XunitException("wharf failed:\n" + Describe());
}

/// <summary>
/// Runs the real CLI as a process (<c>dotnet wharf.dll …</c>) with a private home: XDG_CONFIG_HOME, XDG_CACHE_HOME and DOCKER_CONFIG in
/// the test's folder, no WHARF_SERVER, and DOCKER_HOST pointing at <see cref="DockerHost"/> (by default a socket that does not exist,
/// so "no daemon" is the default).
/// </summary>
public sealed class WharfCli(TempDirectory home)
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");

    public string DockerConfigDirectory { get; } = home.CreateSubdirectory("docker-config");

    public string ConfigHome { get; } = home.CreateSubdirectory("xdg-config");

    public string DockerHost { get; set; } = $"unix://{home.Combine("no-docker.sock")}";

    /// <summary>Extra environment (e.g. PATH with a credential helper).</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    public string DockerConfigPath => Path.Combine(DockerConfigDirectory, "config.json");

    /// <summary>The folder the CLI runs in (relative paths such as <c>--data-dir data</c> resolve against it); the test's own by default.</summary>
    public string? WorkingDirectory { get; set; }

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, null, CancellationToken.None);

    public async Task<CliResult> RunAsync(string[] args, string? stdin, CancellationToken ct)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["XDG_CONFIG_HOME"] = ConfigHome,
            ["XDG_CACHE_HOME"] = home.CreateSubdirectory("xdg-cache"),
            ["DOCKER_CONFIG"] = DockerConfigDirectory,
            ["DOCKER_HOST"] = DockerHost,
            ["WHARF_SERVER"] = null,
            ["HOME"] = home.Path,
            ["TERM"] = "dumb",
        };
        foreach (var (key, value) in Environment) env[key] = value;
        var result = await ExternalTool.RunAsync("dotnet", [Dll, .. args], new ToolRunOptions { Environment = env, StandardInput = stdin, WorkingDirectory = WorkingDirectory, Timeout = TimeSpan.FromMinutes(4) }, ct);
        return new CliResult(result.ExitCode, result.StandardOutput, result.StandardError, "wharf " + string.Join(' ', args));
    }
}
