using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// Messages that point the right way: a refusal says who may not do what where, an unknown option shows the usage line
/// and the error, and create agrees with push on one-component names.
/// </summary>
public sealed class ClientMessagesTests : IAsyncLifetime
{
    private readonly TempDirectory _bossHome = TempDirectory.Create("wmb");
    private readonly TempDirectory _aliceHome = TempDirectory.Create("wma");
    private WharfTestServer _server = null!;
    private WharfCli _boss = null!;
    private WharfCli _alice = null!;
    private OciImage _layout = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _boss = new WharfCli(_bossHome);
        _alice = new WharfCli(_aliceHome);
        var ct = CancellationToken.None;
        // boss signs up first, and so is the instance's administrator.
        (await _boss.RunAsync(["signup", "--server", _server.HostPort, "-u", "boss", "--password-stdin"], "boss-password", ct)).EnsureSuccess();
        (await _boss.RunAsync(["login", _server.HostPort, "-u", "boss", "--password-stdin"], "boss-password", ct)).EnsureSuccess();
        (await _alice.RunAsync(["signup", "--server", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", ct)).EnsureSuccess();
        (await _alice.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", ct)).EnsureSuccess();
        _layout = await TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 16 * 1024 }).WriteOciLayoutAsync(_aliceHome.Combine("layout"), "1", ct);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _bossHome.DisposeAsync();
        await _aliceHome.DisposeAsync();
    }

    [Fact]
    public async Task A_logged_in_user_pushing_into_another_namespace_is_told_she_may_not_push_there_without_a_digest_or_a_login_hint()
    {
        (await _boss.RunAsync("create", "boss/tools", "--public")).EnsureSuccess();

        var push = await _alice.RunAsync("push", "boss/tools:1", "--from", _layout.LayoutPath);

        Assert.True(push.ExitCode == 4, push.Describe());
        Assert.Contains($"alice may not push to boss/tools on {_server.HostPort}", push.Error, StringComparison.Ordinal);
        Assert.Contains("owner", push.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("sha256:", push.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("wharf login", push.Error, StringComparison.Ordinal);

        // A private repository she may not pull: the same kind of answer, for pulling.
        (await _boss.RunAsync("create", "boss/secret", "--private")).EnsureSuccess();
        (await _boss.RunAsync("push", "boss/secret:1", "--from", _layout.LayoutPath)).EnsureSuccess();
        var pull = await _alice.RunAsync("pull", "boss/secret:1", "--to", _aliceHome.Combine("secret"));
        Assert.True(pull.ExitCode == 4, pull.Describe());
        Assert.Contains("alice may not pull boss/secret", pull.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("wharf login", pull.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_option_prints_the_error_and_the_usage_line_instead_of_the_whole_help()
    {
        var result = await _alice.RunAsync("push", "--bogus", "alice/app:1");

        Assert.Equal(2, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["wharf: unknown option '--bogus'", "Usage: wharf push [options] NAME:TAG", "Run 'wharf push --help' for more."], lines);
        Assert.Equal("", result.Output);

        var json = await _alice.RunAsync("tags", "alice/app", "--bogus=1", "-o", "json");
        Assert.Equal(2, json.ExitCode);
        Assert.Equal("unknown option '--bogus'", (string)json.Json["error"]!["message"]!);

        var unknownVerb = await _alice.RunAsync("token", "creat");
        Assert.Equal(2, unknownVerb.ExitCode);
        Assert.Contains("'wharf token creat' is not a wharf command", unknownVerb.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", unknownVerb.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_administrator_creates_a_one_component_repository_as_a_push_would_and_anyone_else_is_told_whose_it_is()
    {
        var created = (await _boss.RunAsync("create", "tools", "--public", "-o", "json")).EnsureSuccess();
        Assert.Equal("tools", (string)created.Json["name"]!);
        (await _boss.RunAsync("push", "tools:1", "--from", _layout.LayoutPath)).EnsureSuccess();
        Assert.Equal(["1"], (await _alice.RunAsync("tags", "tools", "-o", "json")).EnsureSuccess().Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));

        var refused = await _alice.RunAsync("create", "gadgets");
        Assert.True(refused.ExitCode == 4, refused.Describe());
        Assert.Contains("Only administrators may create one-component names such as 'gadgets'; create alice/gadgets instead.", refused.Error, StringComparison.Ordinal);
        var refusedPush = await _alice.RunAsync("push", "gadgets:1", "--from", _layout.LayoutPath);
        Assert.Equal(4, refusedPush.ExitCode);
    }
}
