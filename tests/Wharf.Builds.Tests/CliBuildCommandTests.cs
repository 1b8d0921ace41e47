using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>The <c>wharf</c> build verbs, run as the real executable against a real server.</summary>
[Trait("Category", "Builds")]
public sealed class CliBuildCommandTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static Task<ToolResult> WharfAsync(BuildServer server, params string[] args) => WharfInAsync(null, server, args);

    private static Task<ToolResult> WharfInAsync(string? workingDirectory, BuildServer server, params string[] args) =>
        ExternalTool.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "wharf.dll"), .. args, "--server", server.Server.BaseUrl],
            new ToolRunOptions { Timeout = TimeSpan.FromMinutes(3), WorkingDirectory = workingDirectory });

    [Fact]
    public async Task Wharf_build_takes_a_Containerfile_when_there_is_no_Dockerfile_and_its_json_has_the_target_and_build_args()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        await using var dir = TempDirectory.Create("clc");
        var context = dir.CreateSubdirectory("ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"),
            "ARG BASE\nFROM ${BASE} AS base\nRUN echo from-the-containerfile > /from.txt\nFROM base AS final\nRUN echo final-stage-ran\n", Ct);

        // With a context folder: its Containerfile, built to the target stage, as one JSON document.
        var built = await WharfAsync(server, "build", "-t", "cli/cf:1", "--build-arg", $"BASE={server.BaseImage}", "--target", "base", "-o", "json", context);
        Assert.True(built.Succeeded, built.Describe());
        var json = System.Text.Json.Nodes.JsonNode.Parse(built.StandardOutput)!;
        Assert.Equal("succeeded", json["state"]!.GetValue<string>());
        Assert.Equal("base", json["target"]!.GetValue<string>());
        Assert.Equal(server.BaseImage, json["build_args"]!["BASE"]!.GetValue<string>());
        Assert.Equal("Containerfile", json["dockerfile_path"]!.GetValue<string>());
        Assert.Equal("from-the-containerfile\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "cli/cf", "1", "from.txt", Ct));
        Assert.DoesNotContain("final-stage-ran", await server.LogsAsync(json["id"]!.GetValue<string>(), Ct), StringComparison.Ordinal);

        // Without one: the Containerfile of the current folder is sent alone.
        var alone = await WharfInAsync(context, server, "build", "-t", "cli/cf:2", "--build-arg", $"BASE={server.BaseImage}");
        Assert.True(alone.Succeeded, alone.Describe());
        Assert.Contains("final-stage-ran", alone.StandardOutput, StringComparison.Ordinal);

        // Neither: the message names both.
        var empty = dir.CreateSubdirectory("empty");
        var missing = await WharfInAsync(empty, server, "build", "-t", "cli/cf:3");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("No Dockerfile (nor Containerfile)", missing.StandardError, StringComparison.Ordinal);
    }

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
