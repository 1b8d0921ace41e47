using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf login</c> writes docker's own credentials file: the real <c>docker</c> CLI, given the same DOCKER_CONFIG, pulls a private
/// image that <c>wharf push</c> put into a Wharf in accounts mode (through Wharf's token flow), and cannot without it.
/// </summary>
[Collection(DockerDaemonCollection.Name)]
public sealed class DockerUsesWharfLoginTests(DockerDaemonFixture docker) : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wdlg");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    /// <summary>The docker CLI against the fixture's daemon, with the credentials folder of the wharf CLI (or of the fixture).</summary>
    private Task<ToolResult> DockerAsync(string configDirectory, string[] args, CancellationToken ct) =>
        ExternalTool.RunAsync("docker", ["-H", docker.Host, .. args], new ToolRunOptions
        {
            Environment = { ["DOCKER_CONFIG"] = configDirectory, ["DOCKER_HOST"] = null, ["DOCKER_CONTEXT"] = null, ["DOCKER_CLI_HINTS"] = "false" },
            Timeout = TimeSpan.FromMinutes(3),
        }, ct);

    [Fact]
    public async Task Docker_pulls_a_private_image_pushed_by_wharf_with_the_credentials_of_wharf_login()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = cts.Token;
        (await _cli.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();
        (await _cli.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();
        (await _cli.RunAsync("create", "alice/private-bb", "--private")).EnsureSuccess();
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine("busybox.tar"), "alice/private-bb:1", ct);
        (await _cli.RunAsync("push", "alice/private-bb:1", "--from", archive.Path)).EnsureSuccess();
        var name = $"{_server.HostPort}/alice/private-bb:1";

        // Without the login, the private image is out of docker's reach.
        var anonymous = await DockerAsync(docker.ConfigDirectory, ["pull", name], ct);
        Assert.False(anonymous.Succeeded, anonymous.Describe());
        Assert.Contains("denied", anonymous.StandardError);

        var pulled = await DockerAsync(_cli.DockerConfigDirectory, ["pull", name], ct);
        Assert.True(pulled.Succeeded, pulled.Describe());
        var id = await DockerAsync(_cli.DockerConfigDirectory, ["image", "inspect", "--format", "{{.Id}}", name], ct);
        Assert.Equal(archive.ConfigDigest, id.StandardOutput.Trim());
        await DockerAsync(_cli.DockerConfigDirectory, ["rmi", "-f", name], ct);
    }
}
