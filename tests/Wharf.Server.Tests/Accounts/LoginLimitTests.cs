using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Server;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// Failed logins cannot lock anyone else out: limits are per user name and client address, an address or a name that
/// keeps failing is slowed only for its failing attempts, and client addresses come from <c>X-Forwarded-For</c> only
/// through a listed proxy. Callers at different addresses are played by binding the client's sockets to other
/// addresses of 127.0.0.0/8.
/// </summary>
public sealed class LoginLimitTests : IAsyncLifetime
{
    private const string Attacker = "127.0.0.2";
    private const string Elsewhere = "127.0.0.3";
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts, null,
            "--Wharf:Auth:MaxFailedLogins=3", "--Wharf:Auth:MaxFailedLoginsPerAddress=6", "--Wharf:Auth:MaxFailedLoginsPerUser=6",
            "--Wharf:Auth:FailedLoginDelay=00:00:00.300"));
        foreach (var user in new[] { "boss", "bob", "alice", "carol", "dora", "fred" }) await _http.SignUpAsync(user);
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    private async Task<HttpStatusCode> TryAsync(string from, string user, string password, string path = "v2/")
    {
        using var http = _http.From(from, AccountsHttp.BasicHeader(user, password));
        using var response = await http.GetAsync(path);
        return response.StatusCode;
    }

    [Fact]
    public async Task Wrong_Passwords_For_Bob_From_One_Address_Lock_Out_Only_Bob_At_That_Address()
    {
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync(Attacker, "bob", "wrong-password"));
        foreach (var path in new[] { "v2/", "auth/token?service=wharf", "api/v1/user", "build-push-status?build_id=x" })
        {
            using var http = _http.From(Attacker, AccountsHttp.BasicHeader("bob", AccountsHttp.Password));
            using var limited = await http.GetAsync(path);
            Assert.True(limited.StatusCode == HttpStatusCode.TooManyRequests, $"{path}: {(int)limited.StatusCode}");
            Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, path);
        }
        // Bob elsewhere, and everyone else at the attacker's address, sign in at once.
        Assert.Equal(HttpStatusCode.OK, await TryAsync(Elsewhere, "bob", AccountsHttp.Password));
        Assert.Equal(HttpStatusCode.OK, await TryAsync(Attacker, "alice", AccountsHttp.Password));
        Assert.Equal(HttpStatusCode.OK, await TryAsync(Attacker, "alice", AccountsHttp.Password, "api/v1/user"));

        // Reaching the limit is audited once; an administrator sees bob locked and unlocks him.
        var audit = await _http.AuditAsync("boss");
        Assert.Single(audit, e => e.GetProperty("action").GetString() == "login.limited" && e.GetProperty("target").GetString() == "bob");
        using var boss = _http.Basic("boss");
        var users = JsonDocument.Parse(await boss.GetStringAsync("api/v1/users")).RootElement.GetProperty("users").EnumerateArray().ToList();
        Assert.True(users.Single(u => u.GetProperty("username").GetString() == "bob").GetProperty("locked").GetBoolean());
        using (var unlocked = await boss.PostAsync("api/v1/users/bob/unlock", null)) Assert.Equal(HttpStatusCode.OK, unlocked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await TryAsync(Attacker, "bob", AccountsHttp.Password));
    }

    [Fact]
    public async Task An_Address_Trying_Many_Names_Is_Slowed_Only_For_Its_Failing_Attempts()
    {
        const string sprayer = "127.0.0.4";
        // Two wrong passwords each for many names: no pair reaches its limit, the address does.
        foreach (var name in new[] { "nobody1", "nobody2", "nobody3" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync(sprayer, name, "wrong-password"));
            Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync(sprayer, name, "wrong-password"));
        }
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.TooManyRequests, await TryAsync(sprayer, "nobody4", "wrong-password"));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(300), $"a slowed failure answered after {clock.Elapsed}");
        // A correct password from the same address is not refused.
        Assert.Equal(HttpStatusCode.OK, await TryAsync(sprayer, "carol", AccountsHttp.Password));
    }

    [Fact]
    public async Task Guessing_One_Name_From_Many_Addresses_Is_Slowed_But_Its_Owner_Still_Signs_In()
    {
        for (var i = 0; i < 6; i++) Assert.Equal(HttpStatusCode.Unauthorized, await TryAsync($"127.0.1.{i + 1}", "dora", "wrong-password"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await TryAsync("127.0.1.50", "dora", "wrong-password"));
        Assert.Equal(HttpStatusCode.OK, await TryAsync("127.0.1.51", "dora", AccountsHttp.Password));
        Assert.Equal(HttpStatusCode.OK, await TryAsync("127.0.1.1", "dora", AccountsHttp.Password));
    }

    [Fact]
    public async Task The_Token_Endpoint_Form_Has_The_Same_Limits()
    {
        async Task<HttpStatusCode> PostAsync(string from, string password)
        {
            using var http = _http.From(from);
            using var response = await http.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = "fred", ["password"] = password, ["client_id"] = "test", ["service"] = "wharf",
            }));
            return response.StatusCode;
        }
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync("127.0.0.5", "wrong-password"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await PostAsync("127.0.0.5", AccountsHttp.Password));
        Assert.Equal(HttpStatusCode.OK, await PostAsync("127.0.0.6", AccountsHttp.Password));
    }

    [Fact]
    public async Task X_Forwarded_For_Counts_Only_From_A_Listed_Proxy()
    {
        await using var proxied = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Auth:MaxFailedLogins=2", "--Wharf:Http:KnownProxies=127.0.0.9");
        var http = new AccountsHttp(proxied);
        await http.SignUpAsync("root1");
        await http.SignUpAsync("gina");

        async Task<HttpStatusCode> ViaAsync(string connectFrom, string forwardedFor, string password)
        {
            using var client = http.From(connectFrom, AccountsHttp.BasicHeader("gina", password));
            using var request = new HttpRequestMessage(HttpMethod.Get, "v2/");
            request.Headers.Add("X-Forwarded-For", forwardedFor);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        // Through the listed proxy, the forwarded address is the client: gina at 127.0.0.7 is limited, gina at 127.0.0.8 is not.
        Assert.Equal(HttpStatusCode.Unauthorized, await ViaAsync("127.0.0.9", "127.0.0.7", "wrong-password"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ViaAsync("127.0.0.9", "127.0.0.7", "wrong-password"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ViaAsync("127.0.0.9", "127.0.0.7", AccountsHttp.Password));
        Assert.Equal(HttpStatusCode.OK, await ViaAsync("127.0.0.9", "127.0.0.8", AccountsHttp.Password));
        var audit = await http.AuditAsync("root1");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "login" && !e.GetProperty("success").GetBoolean()
            && e.GetProperty("client_address").GetString() == "127.0.0.7");

        // From anywhere else the header is ignored: a client cannot pick a fresh address for each guess.
        Assert.Equal(HttpStatusCode.Unauthorized, await ViaAsync("127.0.0.10", "127.0.0.21", "wrong-password"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ViaAsync("127.0.0.10", "127.0.0.22", "wrong-password"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ViaAsync("127.0.0.10", "127.0.0.23", "wrong-password"));
    }

    [Fact]
    public async Task An_Invalid_Known_Proxy_Stops_Start_Up_With_The_Setting_Named()
    {
        await using var data = TempDirectory.Create("wkp");
        var error = Assert.Throws<WharfConfigurationException>(() => WharfServer.Build(["--data-dir", data.Path, "--Wharf:Http:KnownProxies=127.0.0.1,not-an-address"]));
        Assert.Contains("Wharf:Http:KnownProxies: 'not-an-address'", error.Message, StringComparison.Ordinal);
    }
}
