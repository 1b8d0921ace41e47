using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The client verbs for people against a real Wharf in accounts mode (what <c>wharf serve</c> runs by default): sign-up,
/// login, create, push with no daemon, pull, search, tags, rm, access tokens and logout, each as a separate <c>wharf</c> process.
/// </summary>
public sealed class WharfAccountsEndToEndTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wacc");
    private readonly TempDirectory _bobHome = TempDirectory.Create("wacb");
    private WharfTestServer _server = null!;
    private WharfCli _alice = null!;
    private WharfCli _bob = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _alice = new WharfCli(_dir);
        _bob = new WharfCli(_bobHome);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
        await _bobHome.DisposeAsync();
    }

    private static string[] Names(JsonNode results) => [.. results.AsArray().Select(r => (string)r!["name"]!)];

    [Fact]
    public async Task Signup_login_create_push_pull_search_tags_rm_token_and_logout_work_end_to_end()
    {
        var ct = CancellationToken.None;
        // bob signs up first (and so is the instance's administrator); his private repository must stay out of alice's sight.
        (await _bob.RunAsync(["signup", "--server", _server.HostPort, "-u", "bob", "--password-stdin"], "bobs-password", ct)).EnsureSuccess();
        (await _bob.RunAsync(["login", _server.HostPort, "-u", "bob", "--password-stdin"], "bobs-password", ct)).EnsureSuccess();
        (await _bob.RunAsync("create", "bob/secret-app", "--private", "--description", "bob's secret app")).EnsureSuccess();

        var signup = await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--email", "alice@example.test", "--password-stdin"], "alices-password\n", ct);
        Assert.True(signup.ExitCode == 0, signup.Describe());
        var login = (await _alice.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alices-password\n", ct)).EnsureSuccess();
        Assert.Contains("Login Succeeded", login.Output);
        Assert.Equal("alice", (string)(await _alice.RunAsync("whoami", "-o", "json")).EnsureSuccess().Json["username"]!);
        Assert.Contains("alice", (await _alice.RunAsync("whoami")).EnsureSuccess().Output);

        // create: the server of the last login, a description, a README from a file.
        var readme = _dir.Combine("README.md");
        await File.WriteAllTextAsync(readme, "# app\n\nThe end-to-end test's app.\n", ct);
        var created = (await _alice.RunAsync("create", "alice/app", "--public", "--description", "An app for the end-to-end test", "--readme", readme, "-o", "json")).EnsureSuccess();
        Assert.Equal("alice/app", (string)created.Json["name"]!);
        Assert.Equal("public", (string)created.Json["visibility"]!);
        Assert.Equal("An app for the end-to-end test", (string)created.Json["description"]!);
        using (var http = _server.CreateClient())
        {
            var stored = JsonNode.Parse(await http.GetStringAsync("api/v1/repositories/alice/app", ct))!;
            Assert.Equal("# app\n\nThe end-to-end test's app.\n", (string)stored["readme"]!);
        }
        var again = await _alice.RunAsync("create", "alice/app");
        Assert.True(again.ExitCode == 2, again.Describe());
        Assert.Contains("already exists", again.Error);

        // push with no daemon: a docker-save archive, then an OCI layout.
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(_dir.Combine("busybox.tar"), "alice/app:1", ct);
        var pushedArchive = (await _alice.RunAsync("push", "alice/app:1", "--from", archive.Path, "-o", "json")).EnsureSuccess();
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024 });
        var layout = await image.WriteOciLayoutAsync(_dir.Combine("layout"), "2", ct);
        var pushedLayout = (await _alice.RunAsync("push", "alice/app:2", "--from", layout.LayoutPath, "-o", "json")).EnsureSuccess();
        Assert.Equal(image.ManifestDigest, (string)pushedLayout.Json["digest"]!);

        // pull both back: same digests.
        var pulled1 = (await _alice.RunAsync("pull", "alice/app:1", "--to", _dir.Combine("back1"), "-o", "json")).EnsureSuccess();
        Assert.Equal((string)pushedArchive.Json["digest"]!, (string)pulled1.Json["digest"]!);
        var back1 = await TestImages.ReadOciLayoutAsync(_dir.Combine("back1"), "1", ct);
        Assert.Equal((string)pulled1.Json["layout_digest"]!, back1.ManifestDigest);
        Assert.Equal(archive.ConfigDigest, back1.ConfigDigest);
        Assert.Equal(archive.DiffIds, back1.Layers.Select(l => l.DiffId));
        (await _alice.RunAsync("pull", "alice/app:2", "--to", _dir.Combine("back2"))).EnsureSuccess();
        var back2 = await TestImages.ReadOciLayoutAsync(_dir.Combine("back2"), "2", ct);
        Assert.Equal(layout.ManifestDigest, back2.ManifestDigest);
        Assert.Equal(layout.Layers, back2.Layers);

        // search finds alice's repository, never bob's private one, which bob himself does find.
        var found = (await _alice.RunAsync("search", "app", "-o", "json")).EnsureSuccess();
        Assert.Contains("alice/app", Names(found.Json["results"]!));
        Assert.DoesNotContain("bob/secret-app", Names(found.Json["results"]!));
        var hit = found.Json["results"]!.AsArray().Single(r => (string)r!["name"]! == "alice/app")!;
        Assert.Equal("An app for the end-to-end test", (string)hit["description"]!);
        Assert.Equal("public", (string)hit["visibility"]!);
        Assert.NotNull(hit["last_pushed_at"]);
        Assert.Empty(Names((await _alice.RunAsync("search", "secret", "-o", "json")).EnsureSuccess().Json["results"]!));
        Assert.Equal(["bob/secret-app"], Names((await _bob.RunAsync("search", "secret", "-o", "json")).EnsureSuccess().Json["results"]!));
        var table = (await _alice.RunAsync("search", "app")).EnsureSuccess();
        Assert.Contains("alice/app", table.Output);
        Assert.Contains("An app for the end-to-end test", table.Output);
        Assert.Contains("public", table.Output);
        Assert.DoesNotContain("secret", table.Output);
        Assert.Equal(["alice/app"], Names((await _bob.RunAsync("search", "app", "--namespace", "alice", "-o", "json")).EnsureSuccess().Json["results"]!));
        Assert.Single((await _bob.RunAsync("search", "app", "--limit", "1", "-o", "json")).EnsureSuccess().Json["results"]!.AsArray());

        // tags, then rm one.
        var tags = (await _alice.RunAsync("tags", "alice/app", "-o", "json")).EnsureSuccess();
        Assert.Equal(["1", "2"], tags.Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));
        Assert.Equal(image.ManifestDigest, (string)tags.Json["tags"]![1]!["digest"]!);
        (await _alice.RunAsync("rm", "alice/app:2")).EnsureSuccess();
        Assert.Equal(["1"], (await _alice.RunAsync("tags", "alice/app", "-o", "json")).EnsureSuccess().Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));

        // A pull,push token works as the password of a login, and pushes.
        var token = (await _alice.RunAsync("token", "create", "ci", "--scope", "pull,push", "-o", "json")).EnsureSuccess();
        var secret = (string)token.Json["token"]!;
        Assert.StartsWith("wharf_pat_", secret);
        (await _alice.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], secret, ct)).EnsureSuccess();
        var pushedWithToken = (await _alice.RunAsync("push", "alice/app:3", "--from", layout.LayoutPath, "-o", "json")).EnsureSuccess();
        Assert.Equal(image.ManifestDigest, (string)pushedWithToken.Json["digest"]!);

        // logout: a push is refused with exit 4 and a hint to log in.
        (await _alice.RunAsync("logout")).EnsureSuccess();
        var denied = await _alice.RunAsync("push", "alice/app:4", "--from", layout.LayoutPath);
        Assert.True(denied.ExitCode == 4, denied.Describe());
        Assert.Contains("wharf login", denied.Error);
        Assert.Equal(["1", "3"], (await _bob.RunAsync("tags", "alice/app", "-o", "json")).EnsureSuccess().Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));
    }

    [Fact]
    public async Task A_wrong_password_exits_with_4_and_stores_nothing()
    {
        (await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", CancellationToken.None)).EnsureSuccess();

        var result = await _alice.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "not-her-password", CancellationToken.None);

        Assert.True(result.ExitCode == 4, result.Describe());
        Assert.Contains("wrong user name or password", result.Error);
        Assert.False(File.Exists(_alice.DockerConfigPath));
    }

    [Fact]
    public async Task Signup_whoami_and_tokens_follow_the_accounts_contract()
    {
        var ct = CancellationToken.None;
        var signup = await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "bob", "--email", "bob@example.test", "--password-stdin"], "builder-pass", ct);
        Assert.True(signup.ExitCode == 0, signup.Describe());
        var taken = await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "bob", "--password-stdin"], "another-pass", ct);
        Assert.Equal(2, taken.ExitCode);
        Assert.Contains("taken", taken.Error);
        var shortPassword = await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "carol", "--password-stdin"], "x", ct);
        Assert.Equal(2, shortPassword.ExitCode);

        var anonymous = await _alice.RunAsync("whoami", "--server", _server.HostPort);
        Assert.Equal(4, anonymous.ExitCode);
        Assert.Contains("wharf login", anonymous.Error);

        (await _alice.RunAsync(["login", _server.HostPort, "-u", "bob", "--password-stdin"], "builder-pass", ct)).EnsureSuccess();
        var whoami = (await _alice.RunAsync("whoami", "-o", "json")).EnsureSuccess();
        Assert.Equal("bob", (string)whoami.Json["username"]!);
        Assert.Equal("bob@example.test", (string)whoami.Json["email"]!);

        var created = (await _alice.RunAsync("token", "create", "ci", "--scope", "pull,push", "--expires-in", "30d", "-o", "json")).EnsureSuccess();
        var id = (string)created.Json["id"]!;
        Assert.StartsWith("wharf_pat_", (string)created.Json["token"]!);
        Assert.Equal(["pull", "push"], created.Json["scopes"]!.AsArray().Select(s => (string)s!));
        var expires = DateTimeOffset.Parse((string)created.Json["expires_at"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));

        var list = (await _alice.RunAsync("token", "list", "-o", "json")).EnsureSuccess();
        var listed = Assert.Single(list.Json.AsArray());
        Assert.Equal("ci", (string)listed!["name"]!);
        Assert.Null(listed["token"]);
        Assert.Contains("ci", (await _alice.RunAsync("token", "list")).EnsureSuccess().Output);

        (await _alice.RunAsync("token", "revoke", id)).EnsureSuccess();
        Assert.Empty((await _alice.RunAsync("token", "list", "-o", "json")).EnsureSuccess().Json.AsArray());
        Assert.Equal(3, (await _alice.RunAsync("token", "revoke", id)).ExitCode);

        var badScope = await _alice.RunAsync("token", "create", "x", "--scope", "pull,fly");
        Assert.Equal(2, badScope.ExitCode);
        var badDuration = await _alice.RunAsync("token", "create", "x", "--expires-in", "soon");
        Assert.Equal(2, badDuration.ExitCode);
    }
}
