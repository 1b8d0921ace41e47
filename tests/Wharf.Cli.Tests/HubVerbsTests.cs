using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The verbs a Docker Hub or Harbor user reaches for, each as a separate <c>wharf</c> process against a real Wharf in accounts
/// mode: repo list|update|delete, org create|list and org member add|remove|list, password, credential add|list|rm, audit,
/// and search without a word (browse).
/// </summary>
public sealed class HubVerbsTests : IAsyncLifetime
{
    private readonly TempDirectory _bossHome = TempDirectory.Create("whb");
    private readonly TempDirectory _aliceHome = TempDirectory.Create("wha");
    private readonly TempDirectory _bobHome = TempDirectory.Create("whc");
    private WharfTestServer _server = null!;
    private WharfCli _boss = null!;
    private WharfCli _alice = null!;
    private WharfCli _bob = null!;
    private OciImage _layout = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--workers", "0");
        _boss = new WharfCli(_bossHome);
        _alice = new WharfCli(_aliceHome);
        _bob = new WharfCli(_bobHome);
        // Accounts through the API (sign-up and login have their own tests); each test logs in only whom it uses.
        using var http = _server.CreateClient();
        foreach (var user in new[] { "boss", "alice", "bob" })
        {
            using var body = new StringContent($$"""{"username":"{{user}}","password":"{{user}}-password"}""", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("api/v1/users", body);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        _layout = await TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 8 * 1024 }).WriteOciLayoutAsync(_aliceHome.Combine("layout"), "1", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _bossHome.DisposeAsync();
        await _aliceHome.DisposeAsync();
        await _bobHome.DisposeAsync();
    }

    private async Task LoginAsync(params (WharfCli Cli, string User)[] logins)
    {
        await Task.WhenAll(logins.Select(async l =>
            (await l.Cli.RunAsync(["login", _server.HostPort, "-u", l.User, "--password-stdin"], $"{l.User}-password", CancellationToken.None)).EnsureSuccess()));
    }

    private static string[] Names(JsonNode list) => [.. list.AsArray().Select(r => (string)r!["name"]!)];

    [Fact]
    public async Task Repo_list_update_and_delete_manage_a_users_repositories()
    {
        await LoginAsync((_alice, "alice"), (_bob, "bob"));
        (await _alice.RunAsync("push", "alice/app:1", "--from", _layout.LayoutPath)).EnsureSuccess();
        (await _alice.RunAsync("push", "alice/lib:1", "--from", _layout.LayoutPath)).EnsureSuccess();
        (await _bob.RunAsync("create", "bob/tool", "--private")).EnsureSuccess();

        Assert.Equal(["alice/app", "alice/lib"], Names((await _alice.RunAsync("repo", "list", "-o", "json")).EnsureSuccess().Json["repositories"]!));
        Assert.Equal(["bob/tool"], Names((await _bob.RunAsync("repo", "list", "bob", "-o", "json")).EnsureSuccess().Json["repositories"]!));
        var table = (await _alice.RunAsync("repo", "list")).EnsureSuccess();
        Assert.Contains("alice/app", table.Output, StringComparison.Ordinal);
        Assert.Contains("private", table.Output, StringComparison.Ordinal);
        Assert.Empty(Names((await _bob.RunAsync("repo", "list", "alice", "-o", "json")).EnsureSuccess().Json["repositories"]!)); // private by default

        var before = (await _alice.RunAsync("repo", "list", "-o", "json")).EnsureSuccess().Json["repositories"]![0]!;
        var readme = _aliceHome.Combine("README.md");
        await File.WriteAllTextAsync(readme, "# app\n\nAlice's app.\n");
        var updated = (await _alice.RunAsync("repo", "update", "alice/app", "--public", "--description", "Alice's app", "--readme", readme, "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("public", (string)updated["visibility"]!);
        Assert.Equal("Alice's app", (string)updated["description"]!);
        Assert.NotNull(updated["updated_at"]);
        using (var http = _server.CreateClient())
        {
            var stored = JsonNode.Parse(await http.GetStringAsync("api/v1/repositories/alice/app"))!; // anonymous: it is public now
            Assert.Equal("# app\n\nAlice's app.\n", (string)stored["readme"]!);
        }
        Assert.Equal(["alice/app"], Names((await _bob.RunAsync("repo", "list", "alice", "-o", "json")).EnsureSuccess().Json["repositories"]!));
        Assert.Equal("alice/app", (string)before["name"]!);
        Assert.Contains("Updated alice/app: private", (await _alice.RunAsync("repo", "update", "alice/app", "--private")).EnsureSuccess().Output, StringComparison.Ordinal);
        var nothing = await _alice.RunAsync("repo", "update", "alice/app");
        Assert.Equal(2, nothing.ExitCode);
        Assert.Contains("Nothing to change", nothing.Error, StringComparison.Ordinal);

        var unconfirmed = await _alice.RunAsync("repo", "delete", "alice/lib");
        Assert.Equal(2, unconfirmed.ExitCode);
        Assert.Contains("--yes", unconfirmed.Error, StringComparison.Ordinal);
        Assert.Equal("bob's tool", (string)(await _bob.RunAsync("repo", "update", "bob/tool", "--description", "bob's tool", "-o", "json")).EnsureSuccess().Json["description"]!);
        var notBobs = await _bob.RunAsync("repo", "delete", "alice/app", "--yes");
        Assert.True(notBobs.ExitCode is 3 or 4, notBobs.Describe()); // private again: bob cannot even see it
        (await _alice.RunAsync("repo", "delete", "alice/lib", "--yes")).EnsureSuccess();
        Assert.Equal(3, (await _alice.RunAsync("tags", "alice/lib")).ExitCode);
        Assert.Equal(["alice/app"], Names((await _alice.RunAsync("repo", "list", "-o", "json")).EnsureSuccess().Json["repositories"]!));
    }

    [Fact]
    public async Task Org_create_list_and_members_add_list_and_remove_decide_who_pushes_to_the_organization()
    {
        await LoginAsync((_alice, "alice"), (_bob, "bob"));
        var created = (await _alice.RunAsync("org", "create", "acme", "-o", "json")).EnsureSuccess().Json;
        Assert.Equal("acme", (string)created["name"]!);
        var mine = (await _alice.RunAsync("org", "list", "-o", "json")).EnsureSuccess().Json["organizations"]!.AsArray();
        Assert.Equal("owner", (string)mine.Single(o => (string)o!["name"]! == "acme")!["role"]!);
        Assert.Empty((await _bob.RunAsync("org", "list", "-o", "json")).EnsureSuccess().Json["organizations"]!.AsArray());
        Assert.Equal(4, (await _bob.RunAsync("push", "acme/app:1", "--from", _layout.LayoutPath)).ExitCode);

        (await _alice.RunAsync("org", "member", "add", "acme", "bob", "--role", "maintainer")).EnsureSuccess();
        var members = (await _alice.RunAsync("org", "member", "list", "acme", "-o", "json")).EnsureSuccess().Json["members"]!.AsArray();
        Assert.Equal([("alice", "owner"), ("bob", "maintainer")],
            members.Select(m => ((string)m!["username"]!, (string)m["role"]!)).OrderBy(m => m.Item1));
        Assert.Equal("maintainer", (string)(await _bob.RunAsync("org", "list", "-o", "json")).EnsureSuccess().Json["organizations"]![0]!["role"]!);
        (await _bob.RunAsync("push", "acme/app:1", "--from", _layout.LayoutPath)).EnsureSuccess();
        var table = (await _bob.RunAsync("org", "member", "list", "acme")).EnsureSuccess();
        Assert.Contains("maintainer", table.Output, StringComparison.Ordinal);
        Assert.Equal(4, (await _bob.RunAsync("org", "member", "add", "acme", "boss", "--role", "owner")).ExitCode); // only owners manage members
        Assert.Equal(2, (await _alice.RunAsync("org", "member", "add", "acme", "bob", "--role", "admin")).ExitCode);

        (await _alice.RunAsync("org", "member", "remove", "acme", "bob")).EnsureSuccess();
        Assert.Equal(4, (await _bob.RunAsync("push", "acme/app:2", "--from", _layout.LayoutPath)).ExitCode);
        Assert.Equal(3, (await _bob.RunAsync("org", "member", "list", "acme")).ExitCode); // not a member: no such organization for him
        Assert.Equal(2, (await _alice.RunAsync("org", "member", "remove", "acme", "alice")).ExitCode); // the last owner stays

        // The members route answers problem details, never an empty 404.
        using var http = _server.CreateClient();
        using var anonymous = await http.GetAsync("api/v1/orgs/acme/members");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:bob-password")));
        using var stranger = await http.GetAsync("api/v1/orgs/acme/members");
        Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
        Assert.Contains("acme", await stranger.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_changes_the_password_and_the_stored_login_follows()
    {
        await LoginAsync((_alice, "alice"));
        var changed = (await _alice.RunAsync(["password", "--password-stdin", "-o", "json"], "alice-password\nalice-new-password\n", CancellationToken.None)).EnsureSuccess().Json;
        Assert.True((bool)changed["stored_login_updated"]!);
        Assert.Equal("alice", (string)(await _alice.RunAsync("whoami", "-o", "json")).EnsureSuccess().Json["username"]!);
        (await _alice.RunAsync("push", "alice/after:1", "--from", _layout.LayoutPath)).EnsureSuccess();

        var old = await _bob.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", CancellationToken.None);
        Assert.Equal(4, old.ExitCode);
        var wrongCurrent = await _alice.RunAsync(["password", "--password-stdin"], "not-it\nwhatever-password\n", CancellationToken.None);
        Assert.Equal(4, wrongCurrent.ExitCode);
        var oneLine = await _alice.RunAsync(["password", "--password-stdin"], "alice-new-password\n", CancellationToken.None);
        Assert.Equal(2, oneLine.ExitCode);
    }

    [Fact]
    public async Task Credential_add_list_and_rm_keep_external_registry_credentials_without_ever_showing_the_secret()
    {
        await LoginAsync((_alice, "alice"), (_bob, "bob"));
        var added = (await _alice.RunAsync(["credential", "add", "127.0.0.1:1", "-u", "ci-bot", "--password-stdin", "-o", "json"], "very-secret-token", CancellationToken.None)).EnsureSuccess();
        Assert.Equal("127.0.0.1:1", (string)added.Json["host"]!);
        Assert.DoesNotContain("very-secret-token", added.Output, StringComparison.Ordinal);
        var listed = (await _alice.RunAsync("credential", "list", "-o", "json")).EnsureSuccess();
        var credential = Assert.Single(listed.Json["credentials"]!.AsArray())!;
        Assert.Equal("ci-bot", (string)credential["username"]!);
        Assert.DoesNotContain("very-secret-token", listed.Output, StringComparison.Ordinal);
        Assert.Empty((await _bob.RunAsync("credential", "list", "-o", "json")).EnsureSuccess().Json["credentials"]!.AsArray());
        Assert.Equal(3, (await _bob.RunAsync("credential", "rm", (string)credential["id"]!)).ExitCode);

        (await _alice.RunAsync("credential", "rm", "127.0.0.1:1")).EnsureSuccess();
        Assert.Empty((await _alice.RunAsync("credential", "list", "-o", "json")).EnsureSuccess().Json["credentials"]!.AsArray());
        Assert.Equal(3, (await _alice.RunAsync("credential", "rm", "127.0.0.1:1")).ExitCode);
    }

    [Fact]
    public async Task Audit_shows_administrators_the_log_newest_first_and_refuses_everyone_else()
    {
        await LoginAsync((_alice, "alice"), (_boss, "boss"));
        (await _alice.RunAsync("org", "create", "audited")).EnsureSuccess();

        var refused = await _alice.RunAsync("audit");
        Assert.Equal(4, refused.ExitCode);
        var log = (await _boss.RunAsync("audit", "--limit", "500", "-o", "json")).EnsureSuccess().Json["events"]!.AsArray();
        var created = log.First(e => (string?)e!["action"] == "org.created")!;
        Assert.Equal("alice", (string)created["actor"]!);
        Assert.Equal("audited", (string)created["target"]!);
        var ids = log.Select(e => (long)e!["id"]!).ToList();
        Assert.Equal(ids.OrderDescending(), ids);
        Assert.Single((await _boss.RunAsync("audit", "--limit", "1", "-o", "json")).EnsureSuccess().Json["events"]!.AsArray());
        Assert.Contains("org.created", (await _boss.RunAsync("audit")).EnsureSuccess().Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_without_a_word_lists_what_the_caller_may_pull_with_its_dates()
    {
        await LoginAsync((_alice, "alice"), (_bob, "bob"));
        (await _alice.RunAsync("create", "alice/open", "--public", "--description", "an open one")).EnsureSuccess();
        (await _alice.RunAsync("create", "alice/closed", "--private")).EnsureSuccess();

        var bobs = (await _bob.RunAsync("search", "-o", "json")).EnsureSuccess().Json["results"]!;
        Assert.Contains("alice/open", Names(bobs));
        Assert.DoesNotContain("alice/closed", Names(bobs));
        var alices = Names((await _alice.RunAsync("search", "-o", "json")).EnsureSuccess().Json["results"]!);
        Assert.Contains("alice/closed", alices);
        var hit = bobs.AsArray().Single(r => (string)r!["name"]! == "alice/open")!;
        Assert.NotNull(hit["created_at"]);
        Assert.NotNull(hit["updated_at"]);
        var word = (await _bob.RunAsync("search", "open", "-o", "json")).EnsureSuccess().Json["results"]!.AsArray().Single()!;
        Assert.NotNull(word["created_at"]);
        Assert.Contains("alice/open", (await _bob.RunAsync("search")).EnsureSuccess().Output, StringComparison.Ordinal);
    }
}
