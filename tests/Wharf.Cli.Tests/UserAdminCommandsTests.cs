using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf user list|disable|enable|unlock|delete</c> against a real Wharf: the administrator (<c>boss</c>, the first
/// account) logged in with one home, <c>alice</c> with another.
/// </summary>
public sealed class UserAdminCommandsTests : IAsyncLifetime
{
    private readonly TempDirectory _bossHome = TempDirectory.Create("wuadb");
    private readonly TempDirectory _aliceHome = TempDirectory.Create("wuada");
    private WharfTestServer _server = null!;
    private WharfCli _boss = null!;
    private WharfCli _alice = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _boss = new WharfCli(_bossHome);
        _alice = new WharfCli(_aliceHome);
        foreach (var (cli, name) in new[] { (_boss, "boss"), (_alice, "alice") })
        {
            (await cli.RunAsync(["signup", "--server", _server.HostPort, "-u", name, "--password-stdin"], name + "-password", CancellationToken.None)).EnsureSuccess();
            (await cli.RunAsync(["login", _server.HostPort, "-u", name, "--password-stdin"], name + "-password", CancellationToken.None)).EnsureSuccess();
        }
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _bossHome.DisposeAsync();
        await _aliceHome.DisposeAsync();
    }

    [Fact]
    public async Task An_administrator_lists_disables_enables_unlocks_and_deletes_users()
    {
        var list = (await _boss.RunAsync("user", "list", "-o", "json")).EnsureSuccess();
        Assert.Equal(["alice", "boss"], list.Json.AsArray().Select(u => (string)u!["username"]!));
        Assert.Contains("active", (await _boss.RunAsync("user", "list")).EnsureSuccess().Output, StringComparison.Ordinal);

        Assert.Contains("disabled", (await _boss.RunAsync("user", "disable", "alice")).EnsureSuccess().Output, StringComparison.Ordinal);
        var refused = await _alice.RunAsync("whoami");
        Assert.True(refused.ExitCode == 4, refused.Describe());
        Assert.Equal("disabled", (string)(await _boss.RunAsync("user", "list", "-o", "json")).EnsureSuccess().Json.AsArray().Single(u => (string)u!["username"]! == "alice")!["state"]!);
        (await _boss.RunAsync("user", "enable", "alice")).EnsureSuccess();
        // Disabling ended alice's session (her stored login): she logs in again.
        Assert.Equal(4, (await _alice.RunAsync("whoami")).ExitCode);
        (await _alice.RunAsync(["login", _server.HostPort, "-u", "alice", "--password-stdin"], "alice-password", CancellationToken.None)).EnsureSuccess();
        (await _alice.RunAsync("whoami")).EnsureSuccess();
        (await _boss.RunAsync("user", "unlock", "alice")).EnsureSuccess();

        // Not an administrator: refused, exit 4.
        var notAdmin = await _alice.RunAsync("user", "list");
        Assert.True(notAdmin.ExitCode == 4, notAdmin.Describe());
        Assert.Contains("administrators", notAdmin.Error, StringComparison.Ordinal);

        // Deleting asks for --yes without a terminal, then says what happens to the repositories.
        (await _alice.RunAsync("create", "alice/kept", "--private")).EnsureSuccess();
        var unconfirmed = await _boss.RunAsync("user", "delete", "alice");
        Assert.Equal(2, unconfirmed.ExitCode);
        Assert.Contains("--yes", unconfirmed.Error, StringComparison.Ordinal);
        var deleted = (await _boss.RunAsync("user", "delete", "alice", "--yes", "-o", "json")).EnsureSuccess();
        Assert.Equal(1, (long)deleted.Json["repositories_kept"]!);
        Assert.Contains("kept", (string)deleted.Json["message"]!, StringComparison.Ordinal);
        Assert.Equal(4, (await _alice.RunAsync("whoami")).ExitCode);
        Assert.Equal(3, (await _boss.RunAsync("user", "delete", "alice", "--yes")).ExitCode);
        Assert.Equal(2, (await _boss.RunAsync("user", "disable", "boss")).ExitCode);
    }
}
