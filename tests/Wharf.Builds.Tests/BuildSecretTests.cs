using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// Build secrets (<c>RUN --mount=type=secret</c>) reach the build and nothing else: not the database, not the log (a
/// value the build prints is masked), not any process's command line, not the image, not a file left in the clear;
/// build arguments stay off command lines too.
/// </summary>
[Trait("Category", "Builds")]
public sealed class BuildSecretTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task A_secret_reaches_its_RUN_step_and_never_the_database_the_log_a_command_line_or_the_image()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        var secret = "s3cret-" + Guid.NewGuid().ToString("N");
        var argument = "arg-" + Guid.NewGuid().ToString("N");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        var dockerfile = $"""
            FROM busybox
            ARG TOKEN_ARG
            RUN --mount=type=secret,id=token test "$(sha256sum /run/secrets/token | cut -d' ' -f1)" = "{hash}" && echo secret-matches && cat /run/secrets/token && echo && echo run"-"started && sleep 3
            RUN echo "$TOKEN_ARG" > /arg.txt
            """;
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(dockerfile));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "dockerfile", "Dockerfile");
        form.Add(new StringContent("secrets/app:1"), "image");
        form.Add(new StringContent($"TOKEN_ARG={argument}"), "build_args");
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(secret)), "secret.token");
        using var response = await server.Http.PostAsync("api/v1/builds", form, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        Assert.Equal("token", JsonNode.Parse(body)!["secrets"]![0]!.GetValue<string>());

        await server.WaitForLogAsync(id, "run-started", Ct);
        var exposed = HostProcesses.All().Where(p => p.CommandLine.Contains(secret, StringComparison.Ordinal) || p.CommandLine.Contains(argument, StringComparison.Ordinal)).ToList();
        Assert.True(exposed.Count == 0, "on a command line:\n" + string.Join('\n', exposed));
        var build = await server.AssertSucceededAsync(id, Ct);

        var log = await server.LogsAsync(id, Ct);
        Assert.Contains("secret-matches", log, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        Assert.Contains(log.Split('\n'), l => l.EndsWith("Z ****", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, build.ToJsonString(), StringComparison.Ordinal);
        Assert.Null(await BuildServer.ReadFileFromImageAsync(server.Registry, "secrets/app", "1", "run/secrets/token", Ct));
        Assert.Equal(argument + "\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "secrets/app", "1", "arg.txt", Ct));
        // Not in the database (its file and write-ahead log), nor in any file of the data folder.
        var needle = Encoding.UTF8.GetBytes(secret);
        var holding = Directory.EnumerateFiles(server.Server.DataDir, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Where(f => new FileInfo(f).Length < 64 * 1024 * 1024 && File.ReadAllBytes(f).AsSpan().IndexOf(needle) >= 0)
            .ToList();
        Assert.True(holding.Count == 0, "the secret is stored in: " + string.Join(", ", holding));
        Assert.Contains(Directory.EnumerateFiles(server.Server.DataDir), f => f.EndsWith("wharf.db", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_secret_with_an_invalid_id_is_refused_at_submit()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent("FROM busybox\n"u8.ToArray()), "dockerfile", "Dockerfile");
        form.Add(new StringContent("secrets/bad:1"), "image");
        form.Add(new ByteArrayContent("x"u8.ToArray()), "secret.../escape");
        using var response = await server.Http.PostAsync("api/v1/builds", form, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("secret id", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
