using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>Real builds with buildah, pushed into Wharf and pulled back.</summary>
[Trait("Category", "Builds")]
public sealed class BuildahBuildTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task A_multi_stage_context_build_with_args_env_copy_and_target_is_pushed_and_pulls_back_with_its_files_and_config()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        const string dockerfile = """
            ARG BASE
            FROM ${BASE} AS builder
            ARG GREETING=hello
            ENV APP_HOME=/app
            COPY hello.txt /src/hello.txt
            RUN mkdir -p $APP_HOME && echo "$GREETING from builder" > $APP_HOME/greeting.txt && cat /src/hello.txt >> $APP_HOME/greeting.txt

            FROM ${BASE} AS final
            ENV MODE=final
            COPY --from=builder /app/greeting.txt /greeting.txt
            RUN echo final > /stage.txt

            FROM final AS extra
            RUN echo extra > /stage.txt
            """;
        var archive = new ContextArchive().Directory("docker/").File("docker/Dockerfile", dockerfile).File("hello.txt", "from the context\n").TarGz();

        using var response = await server.SubmitContextAsync(archive, "team/app:1.0", Ct, new Dictionary<string, string>
        {
            ["dockerfile_path"] = "docker/Dockerfile",
            ["build_args"] = $$"""{"BASE":"{{server.BaseImage}}","GREETING":"bonjour"}""",
            ["target"] = "final",
        });
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();

        var build = await server.AssertSucceededAsync(id, Ct);
        Assert.Equal("completed", build["build_status"]!.GetValue<string>());
        Assert.Equal("completed", build["push_status"]!.GetValue<string>());
        Assert.StartsWith("sha256:", build["digest"]!.GetValue<string>(), StringComparison.Ordinal);

        var manifest = await RegistryHttp.GetManifestAsync(server.Registry, "team/app", "1.0", Ct);
        Assert.Equal(build["digest"]!.GetValue<string>(), manifest.DockerContentDigest);
        Assert.Equal("bonjour from builder\nfrom the context\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "team/app", "1.0", "greeting.txt", Ct));
        Assert.Equal("final\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "team/app", "1.0", "stage.txt", Ct));
        var config = await RegistryHttp.GetConfigAsync(server.Registry, "team/app", manifest, Ct);
        var env = config["config"]!["Env"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains("MODE=final", env);
        Assert.DoesNotContain(env, e => e.StartsWith("APP_HOME=", StringComparison.Ordinal));

        // The worker cleans up (local image, then source) right after recording success, so allow it a moment.
        var shared = server.Server.Services.GetRequiredService<Wharf.Core.Storage.ISharedFileStore>();
        var source = $"builds/{Guid.Parse(id):N}/";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await shared.ListAsync(source, Ct)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(50, Ct);
        Assert.True((await shared.ListAsync(source, Ct)).Count == 0, "a succeeded build's source is removed");
        Assert.False(Directory.Exists(Path.Combine(server.Server.DataDir, "builds", "sources", Guid.Parse(id).ToString("N"))), "nothing of it stays on the node");
        var logs = await server.LogsAsync(id, Ct);
        Assert.Contains("STEP", logs, StringComparison.Ordinal);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", logs);
    }

    [Fact]
    public async Task The_chroot_fallback_isolation_builds_and_pushes_too()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:Isolation=Chroot");
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nARG WORD=chroot\nRUN echo \"$WORD-run\" > /word.txt\n", "iso/chroot:1", Ct);
        await server.AssertSucceededAsync(id, Ct);
        Assert.Contains("--isolation chroot", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
        Assert.Equal("chroot-run\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "iso/chroot", "1", "word.txt", Ct));
    }
}
