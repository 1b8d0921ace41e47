using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>The same builds through the Docker Engine backend, against a dockerd the fixture starts.</summary>
[Trait("Category", "Builds")]
public sealed class DockerEngineBuildTests(DockerDaemonFixture docker) : IClassFixture<DockerDaemonFixture>
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private Task<BuildServer> StartAsync() => BuildServer.StartAsync(Ct, null, "--Wharf:Builds:Engine=Docker", $"--Wharf:Builds:DockerHost={docker.Host}");

    [Fact]
    public async Task A_multi_stage_build_with_args_and_target_through_the_docker_engine_is_pushed_and_pulls_back()
    {
        await using var server = await StartAsync();
        const string dockerfile = """
            ARG BASE
            FROM ${BASE} AS builder
            ARG GREETING=hello
            COPY hello.txt /src/hello.txt
            RUN echo "$GREETING via docker" > /greeting.txt && cat /src/hello.txt >> /greeting.txt

            FROM ${BASE} AS final
            ENV MODE=docker-final
            COPY --from=builder /greeting.txt /greeting.txt

            FROM final AS extra
            RUN echo extra > /extra.txt
            """;
        var archive = new ContextArchive().File("Dockerfile.build", dockerfile).File("hello.txt", "context file\n").Tar();
        using var response = await server.SubmitContextAsync(archive, "dock/app:1", Ct, new Dictionary<string, string>
        {
            ["dockerfile_path"] = "Dockerfile.build",
            ["build_args"] = $"BASE={server.BaseImage}\nGREETING=hallo",
            ["target"] = "final",
        });
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        var build = await server.AssertSucceededAsync(id, Ct);

        var manifest = await RegistryHttp.GetManifestAsync(server.Registry, "dock/app", "1", Ct);
        Assert.Equal(build["digest"]!.GetValue<string>(), manifest.DockerContentDigest);
        Assert.Equal("hallo via docker\ncontext file\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "dock/app", "1", "greeting.txt", Ct));
        Assert.Null(await BuildServer.ReadFileFromImageAsync(server.Registry, "dock/app", "1", "extra.txt", Ct));
        var config = await RegistryHttp.GetConfigAsync(server.Registry, "dock/app", manifest, Ct);
        Assert.Contains("MODE=docker-final", config["config"]!["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Contains("Step 1/", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_run_through_the_docker_engine_fails_the_build_and_the_push_stays_pending()
    {
        await using var server = await StartAsync();
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo docker-fails && exit 7\n", "dock/broken:1", Ct);
        var build = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("failed", build["state"]!.GetValue<string>());
        Assert.Equal("build", build["error"]!["kind"]!.GetValue<string>());
        Assert.Equal("pending", build["push_status"]!.GetValue<string>());
        Assert.Contains("docker-fails", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_accounts_mode_the_docker_engine_pulls_a_public_base_from_another_namespace_and_pushes_into_the_owners_repository()
    {
        await using var anonymous = await BuildServer.StartAccountsAsync(Ct, "--Wharf:Builds:Engine=Docker", $"--Wharf:Builds:DockerHost={docker.Host}");
        var carol = new RegistryCredentials("carol", "carol-password-1");
        await anonymous.SignUpAsync(carol, Ct);
        await using var asCarol = anonymous.As(carol);

        var id = await asCarol.SubmitOkAsync($"FROM {anonymous.BaseImage}\nRUN echo carol-via-docker > /who.txt\n", "carol/app:1", Ct);
        var build = await asCarol.AssertSucceededAsync(id, Ct);

        var manifest = await RegistryHttp.GetManifestAsync(asCarol.Registry, "carol/app", "1", Ct);
        Assert.Equal(build["digest"]!.GetValue<string>(), manifest.DockerContentDigest);
        Assert.Equal("carol-via-docker\n", await BuildServer.ReadFileFromImageAsync(asCarol.Registry, "carol/app", "1", "who.txt", Ct));
        // The repository is carol's and private: the anonymous view cannot read it.
        using var response = await anonymous.Http.GetAsync("v2/carol/app/manifests/1", Ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_docker_engine_reuses_cached_layers_within_a_namespace_and_never_another_namespaces()
    {
        await using var server = await StartAsync();
        // Each run of this step writes a new random token; a cache hit replays an earlier run's layer, token and all.
        const string dockerfile = "FROM busybox\nRUN cat /proc/sys/kernel/random/uuid > /token\n";
        async Task<string> BuildTokenAsync(string image)
        {
            var id = await server.SubmitOkAsync(dockerfile, image + ":1", Ct);
            await server.AssertSucceededAsync(id, Ct);
            return (await BuildServer.ReadFileFromImageAsync(server.Registry, image, "1", "token", Ct))!;
        }

        var first = await BuildTokenAsync("alpha/first");
        var again = await BuildTokenAsync("alpha/again");
        var stranger = await BuildTokenAsync("beta/copy");

        Assert.Equal(first, again);
        Assert.NotEqual(first, stranger);
    }
}
