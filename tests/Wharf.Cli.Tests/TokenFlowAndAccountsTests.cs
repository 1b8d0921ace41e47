using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The Bearer token flow and the account verbs against <see cref="FakeHub"/>, which follows DESIGN.md §3. (The same verbs
/// against Wharf itself need the accounts server, which lives on another branch.)
/// </summary>
public sealed class TokenFlowAndAccountsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wtok");
    private FakeHub _hub = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _hub = await FakeHub.StartAsync("alice", "wonderland");
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Fact]
    public async Task Login_and_tags_follow_bearer_challenges_with_basic_credentials_and_cache_the_token_per_scope()
    {
        (await _cli.RunAsync(["login", _hub.HostPort, "-u", "alice", "--password-stdin"], "wonderland", CancellationToken.None)).EnsureSuccess();
        var loginRequest = Assert.Single(_hub.TokenRequests);
        Assert.Equal("alice", loginRequest.User);
        Assert.Contains($"service={FakeHub.Service}", loginRequest.Query);

        while (_hub.TokenRequests.TryDequeue(out _)) { }
        var tags = (await _cli.RunAsync("tags", "alice/app", "-o", "json")).EnsureSuccess();

        // Both pages (Link pagination), one token for the pull scope reused for every later request of the command.
        Assert.Equal(["1", "2"], tags.Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));
        var tokenRequest = Assert.Single(_hub.TokenRequests);
        Assert.Contains("scope=repository%3Aalice%2Fapp%3Apull", tokenRequest.Query);
        Assert.Equal("alice", tokenRequest.User);
    }

    [Fact]
    public async Task A_wrong_password_at_the_token_endpoint_exits_with_4()
    {
        var result = await _cli.RunAsync(["login", _hub.HostPort, "-u", "alice", "--password-stdin"], "nope", CancellationToken.None);
        Assert.Equal(4, result.ExitCode);
        Assert.False(File.Exists(_cli.DockerConfigPath));
    }

    [Fact]
    public async Task Signup_whoami_and_tokens_follow_the_accounts_contract()
    {
        var signup = await _cli.RunAsync(["signup", "--server", _hub.HostPort, "-u", "bob", "--email", "bob@example.test", "--password-stdin"], "builder-pass", CancellationToken.None);
        Assert.True(signup.ExitCode == 0, signup.Describe());
        var taken = await _cli.RunAsync(["signup", "--server", _hub.HostPort, "-u", "bob", "--password-stdin"], "x", CancellationToken.None);
        Assert.Equal(2, taken.ExitCode);
        Assert.Contains("taken", taken.Error);

        var anonymous = await _cli.RunAsync("whoami", "--server", _hub.HostPort);
        Assert.Equal(4, anonymous.ExitCode);
        Assert.Contains("wharf login", anonymous.Error);

        (await _cli.RunAsync(["login", _hub.HostPort, "-u", "bob", "--password-stdin"], "builder-pass", CancellationToken.None)).EnsureSuccess();
        Assert.Equal("bob", (string)(await _cli.RunAsync("whoami", "-o", "json")).EnsureSuccess().Json["username"]!);

        var created = (await _cli.RunAsync("token", "create", "ci", "--scope", "pull,push", "--expires-in", "30d", "-o", "json")).EnsureSuccess();
        var id = (string)created.Json["id"]!;
        Assert.StartsWith("wharf_pat_", (string)created.Json["token"]!);
        Assert.Equal(["pull", "push"], created.Json["scopes"]!.AsArray().Select(s => (string)s!));
        var expires = DateTimeOffset.Parse((string)created.Json["expires_at"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));

        var list = (await _cli.RunAsync("token", "list", "-o", "json")).EnsureSuccess();
        var listed = Assert.Single(list.Json.AsArray());
        Assert.Equal("ci", (string)listed!["name"]!);
        Assert.Null(listed["token"]);
        Assert.Contains("ci", (await _cli.RunAsync("token", "list")).EnsureSuccess().Output);

        (await _cli.RunAsync("token", "revoke", id)).EnsureSuccess();
        Assert.Empty((await _cli.RunAsync("token", "list", "-o", "json")).EnsureSuccess().Json.AsArray());
        Assert.Equal(3, (await _cli.RunAsync("token", "revoke", id)).ExitCode);

        var badScope = await _cli.RunAsync("token", "create", "x", "--scope", "pull,fly");
        Assert.Equal(2, badScope.ExitCode);
        var badDuration = await _cli.RunAsync("token", "create", "x", "--expires-in", "soon");
        Assert.Equal(2, badDuration.ExitCode);
    }
}
