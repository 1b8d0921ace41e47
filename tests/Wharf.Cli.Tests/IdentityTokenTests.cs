using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// docker and wharf share one login: the real <c>docker login</c> stores an identity token (a Wharf session), which the
/// wharf client uses for the registry and the REST API; <c>wharf login</c> stores one the same way, which docker uses;
/// and a session made with a pull-only token lets docker pull but never push, and ends when the token is revoked.
/// </summary>
[Collection(DockerDaemonCollection.Name)]
public sealed class IdentityTokenTests(DockerDaemonFixture docker) : IAsyncLifetime
{
    private const string Password = "alices-password";
    private readonly TempDirectory _dir = TempDirectory.Create("widt");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _cli = new WharfCli(_dir);
        _cli.Environment["WHARF_SERVER"] = _server.HostPort;
        (await _cli.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--password-stdin"], Password, CancellationToken.None)).EnsureSuccess();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    private Task<ToolResult> DockerAsync(string[] args, CancellationToken ct, string? stdin = null) =>
        ExternalTool.RunAsync("docker", ["-H", docker.Host, .. args], new ToolRunOptions
        {
            Environment = { ["DOCKER_CONFIG"] = _cli.DockerConfigDirectory, ["DOCKER_HOST"] = null, ["DOCKER_CONTEXT"] = null, ["DOCKER_CLI_HINTS"] = "false" },
            StandardInput = stdin,
            Timeout = TimeSpan.FromMinutes(3),
        }, ct);

    private async Task<JsonObject> StoredEntryAsync() =>
        (JsonNode.Parse(await File.ReadAllTextAsync(_cli.DockerConfigPath))!["auths"]![_server.HostPort] as JsonObject)!;

    private HttpClient Http(string user, string secret)
    {
        var http = _server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}")));
        return http;
    }

    /// <summary>A private image alice/NAME:1 pushed with wharf from a docker archive; returns its image id.</summary>
    private async Task<string> PushPrivateAsync(string name, CancellationToken ct)
    {
        (await _cli.RunAsync("create", $"alice/{name}", "--private")).EnsureSuccess();
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine(name + ".tar"), $"alice/{name}:1", ct);
        (await _cli.RunAsync("push", $"alice/{name}:1", "--from", archive.Path)).EnsureSuccess();
        return archive.ConfigDigest;
    }

    [Fact]
    public async Task After_docker_login_wharf_uses_the_identity_token_for_the_registry_and_the_api()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = cts.Token;
        var login = await DockerAsync(["login", "--username", "alice", "--password-stdin", _server.HostPort], ct, Password);
        Assert.True(login.Succeeded, login.Describe());

        // What docker stored: the user name and an identity token, no password.
        var entry = await StoredEntryAsync();
        Assert.StartsWith("wharf_rt_", (string)entry["identitytoken"]!, StringComparison.Ordinal);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:")), (string)entry["auth"]!);
        Assert.DoesNotContain(Password, await File.ReadAllTextAsync(_cli.DockerConfigPath), StringComparison.Ordinal);

        var whoami = (await _cli.RunAsync("whoami", "--server", _server.HostPort)).EnsureSuccess();
        Assert.Contains("alice on", whoami.Output, StringComparison.Ordinal);
        await PushPrivateAsync("after-docker", ct); // the REST API (create) and the registry (push)
        var tags = (await _cli.RunAsync("tags", "alice/after-docker", "--server", _server.HostPort, "-o", "json")).EnsureSuccess();
        Assert.Equal(["1"], tags.Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));
        (await _cli.RunAsync("builds", "--server", _server.HostPort)).EnsureSuccess();

        // The session docker made is listed, and marked as the one in use.
        var list = (await _cli.RunAsync("token", "list", "--server", _server.HostPort, "-o", "json")).EnsureSuccess();
        var session = list.Json.AsArray().Single(t => (string)t!["kind"]! == "session")!;
        Assert.Equal("docker", (string)session["client_id"]!);
        Assert.True((bool)session["current"]!);
        Assert.StartsWith("s", (string)session["id"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wharf_login_stores_a_session_docker_uses_and_a_docker_login_after_it_keeps_wharf_working()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = cts.Token;
        (await _cli.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], Password, ct)).EnsureSuccess();
        var stored = (string)(await StoredEntryAsync())["identitytoken"]!;
        Assert.StartsWith("wharf_rt_", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, await File.ReadAllTextAsync(_cli.DockerConfigPath), StringComparison.Ordinal);

        var imageId = await PushPrivateAsync("shared", ct);
        var name = $"{_server.HostPort}/alice/shared:1";
        var pulled = await DockerAsync(["pull", name], ct);
        Assert.True(pulled.Succeeded, pulled.Describe());
        Assert.Equal(imageId, (await DockerAsync(["image", "inspect", "--format", "{{.Id}}", name], ct)).StandardOutput.Trim());
        await DockerAsync(["rmi", "-f", name], ct);

        // docker login over it (a new identity token): wharf goes on with what docker wrote.
        var login = await DockerAsync(["login", "--username", "alice", "--password-stdin", _server.HostPort], ct, Password);
        Assert.True(login.Succeeded, login.Describe());
        Assert.NotEqual(stored, (string)(await StoredEntryAsync())["identitytoken"]!);
        (await _cli.RunAsync("builds", "--server", _server.HostPort)).EnsureSuccess();
        (await _cli.RunAsync("whoami", "--server", _server.HostPort)).EnsureSuccess();

        // wharf logout ends the session on the server, not only in the file.
        var current = (string)(await StoredEntryAsync())["identitytoken"]!;
        var logout = (await _cli.RunAsync("logout", _server.HostPort)).EnsureSuccess();
        Assert.Contains("ended the session", logout.Output, StringComparison.Ordinal);
        using var anonymous = _server.CreateClient();
        using var redeem = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = current, ["client_id"] = "docker", ["service"] = "wharf",
        }), ct);
        Assert.Equal(HttpStatusCode.Unauthorized, redeem.StatusCode);
    }

    [Fact]
    public async Task Docker_login_with_a_pull_only_token_pulls_but_cannot_push_and_stops_when_the_token_is_revoked()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var ct = cts.Token;
        using var alice = Http("alice", Password);
        using var created = await alice.PostAsJsonAsync("api/v1/tokens", new { name = "ci-pull", scopes = new[] { "pull" } }, ct);
        var token = JsonDocument.Parse(await created.Content.ReadAsStringAsync(ct)).RootElement;
        var secret = token.GetProperty("token").GetString()!;
        (await _cli.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], Password, ct)).EnsureSuccess();
        await PushPrivateAsync("pull-only", ct);
        var name = $"{_server.HostPort}/alice/pull-only:1";

        var login = await DockerAsync(["login", "--username", "alice", "--password-stdin", _server.HostPort], ct, secret);
        Assert.True(login.Succeeded, login.Describe());
        var pulled = await DockerAsync(["pull", name], ct);
        Assert.True(pulled.Succeeded, pulled.Describe());

        // The session of a pull-only token is redeemed for pull only: the push is refused, and nothing lands.
        var other = $"{_server.HostPort}/alice/pushed-with-pull-token:1";
        await DockerAsync(["tag", name, other], ct);
        var push = await DockerAsync(["push", other], ct);
        Assert.False(push.Succeeded, push.Describe());
        using (var missing = await alice.GetAsync("api/v1/repositories/alice/pushed-with-pull-token/tags", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // Revoking the token ends the session docker stored: the next pull is refused.
        using (var revoked = await alice.DeleteAsync($"api/v1/tokens/{token.GetProperty("id").GetInt64()}", ct)) Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await DockerAsync(["rmi", "-f", name, other], ct);
        var refused = await DockerAsync(["pull", name], ct);
        Assert.False(refused.Succeeded, refused.Describe());
    }
}
