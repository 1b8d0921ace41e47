using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>The <c>wharf</c> build verbs, run as the real executable against a real server.</summary>
[Trait("Category", "Builds")]
public sealed class CliBuildCommandTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static Task<ToolResult> WharfAsync(BuildServer server, params string[] args) =>
        ExternalTool.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "wharf.dll"), .. args, "--server", server.Server.BaseUrl],
            new ToolRunOptions { Timeout = TimeSpan.FromMinutes(3) });

    [Fact]
    public async Task Wharf_build_uploads_a_context_follows_the_logs_and_the_other_verbs_show_retry_and_cancel()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        await using var dir = TempDirectory.Create("cli");
        var context = dir.CreateSubdirectory("ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), "ARG BASE\nFROM ${BASE}\nCOPY note.txt /note.txt\nRUN echo cli-build-ran && cat /note.txt\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(context, "note.txt"), "from the cli context\n", Ct);

        var built = await WharfAsync(server, "build", "-t", "cli/app:1", "--build-arg", $"BASE={server.BaseImage}", context);
        Assert.True(built.Succeeded, built.Describe());
        Assert.Contains("cli-build-ran", built.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("from the cli context", built.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("succeeded", built.StandardError, StringComparison.Ordinal);
        Assert.Equal("from the cli context\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "cli/app", "1", "note.txt", Ct));

        var failingFile = Path.Combine(dir.Path, "Failing.Dockerfile");
        await File.WriteAllTextAsync(failingFile, $"FROM {server.BaseImage}\nRUN echo cli-fails && exit 4\n", Ct);
        var failed = await WharfAsync(server, "build", "-t", "cli/broken:1", "-f", failingFile);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("cli-fails", failed.StandardOutput, StringComparison.Ordinal);

        var list = await WharfAsync(server, "builds", "--state", "failed", "-o", "json");
        Assert.True(list.Succeeded, list.Describe());
        var failedBuilds = System.Text.Json.Nodes.JsonNode.Parse(list.StandardOutput)!["builds"]!.AsArray();
        var failedId = Assert.Single(failedBuilds)!["id"]!.GetValue<string>();
        Assert.Equal("cli/broken:1", failedBuilds[0]!["image"]!.GetValue<string>());

        var status = await WharfAsync(server, "status", failedId);
        Assert.Contains("failed", status.StandardOutput, StringComparison.Ordinal);
        var logs = await WharfAsync(server, "logs", failedId);
        Assert.Contains("cli-fails", logs.StandardOutput, StringComparison.Ordinal);
        var retry = await WharfAsync(server, "retry", failedId);
        Assert.True(retry.Succeeded, retry.Describe());
        var follow = await WharfAsync(server, "logs", "-f", failedId);
        Assert.Equal(1, follow.ExitCode); // it fails again
        Assert.Equal(2, (await server.GetBuildAsync(failedId, Ct))["build_runs"]!.GetValue<int>());

        var cancel = await WharfAsync(server, "cancel", failedId);
        Assert.Equal(2, cancel.ExitCode); // it already ended: a conflict
        Assert.Contains("already ended", cancel.StandardError, StringComparison.Ordinal);
        var unknown = await WharfAsync(server, "status", Guid.NewGuid().ToString());
        Assert.Equal(3, unknown.ExitCode);
    }
}
