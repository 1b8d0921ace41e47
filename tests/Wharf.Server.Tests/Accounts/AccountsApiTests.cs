using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>/api/v1 accounts endpoints: happy paths, audit, and bad input that must give a problem and store nothing.</summary>
public class AccountsApiTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    /// <summary>The providers this class's servers run on (a derived class runs the same tests on PostgreSQL).</summary>
    protected virtual WharfTestProviders Providers => WharfTestProviders.Default;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task First_User_Is_Admin_And_Get_User_Describes_The_Caller()
    {
        using var boss = _http.Basic("boss");
        var me = JsonDocument.Parse(await boss.GetStringAsync("api/v1/user")).RootElement;
        Assert.Equal("boss", me.GetProperty("username").GetString());
        Assert.True(me.GetProperty("is_admin").GetBoolean());
        using var alice = _http.Basic("alice");
        Assert.False(JsonDocument.Parse(await alice.GetStringAsync("api/v1/user")).RootElement.GetProperty("is_admin").GetBoolean());
        using var anonymous = _http.Anonymous();
        using var response = await anonymous.GetAsync("api/v1/user");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Tokens_Are_Shown_Once_Listed_Without_Secret_And_Revoked()
    {
        var secret = await _http.CreateAccessTokenAsync("alice", "pull");
        Assert.StartsWith("wharf_pat_", secret, StringComparison.Ordinal);
        using var alice = _http.Basic("alice");
        var list = JsonDocument.Parse(await alice.GetStringAsync("api/v1/tokens")).RootElement.GetProperty("tokens");
        var token = list.EnumerateArray().Single();
        Assert.False(token.TryGetProperty("token", out _));
        Assert.Equal("pull", token.GetProperty("scopes")[0].GetString());

        using var withToken = _http.Basic("alice", secret);
        using (var ok = await withToken.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var bearer = _http.Bearer(secret))
        using (var ok = await bearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // A pull-only token cannot mint tokens.
        using (var mint = await withToken.PostAsJsonAsync("api/v1/tokens", new { name = "x", scopes = new[] { "admin" } })) Assert.Equal(HttpStatusCode.Forbidden, mint.StatusCode);

        using (var revoke = await alice.DeleteAsync($"api/v1/tokens/{token.GetProperty("id").GetInt64()}")) Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        using (var refused = await withToken.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var again = await alice.DeleteAsync($"api/v1/tokens/{token.GetProperty("id").GetInt64()}")) Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Password_Change_Needs_The_Current_Password_And_Takes_Effect()
    {
        await _http.SignUpAsync("carol");
        using var carol = _http.Basic("carol");
        using (var wrong = await carol.PutAsJsonAsync("api/v1/user/password", new { current_password = "nope-nope", new_password = "a-new-password" })) Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        using (var ok = await carol.PutAsJsonAsync("api/v1/user/password", new { current_password = AccountsHttp.Password, new_password = "a-new-password" })) Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        using var newPassword = _http.Basic("carol", "a-new-password");
        using (var ok = await newPassword.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Audit_Is_For_Administrators_And_Pages_With_A_Cursor()
    {
        await _http.CreateAccessTokenAsync("alice", "pull");
        await _http.GetTokenAsync("alice", "repository:alice/app:pull"); // a sign-in: the audit records it
        using var alice = _http.Basic("alice");
        using (var denied = await alice.GetAsync("api/v1/audit")) Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        using var boss = _http.Basic("boss");
        var seen = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = JsonDocument.Parse(await boss.GetStringAsync("api/v1/audit?limit=2" + (cursor is null ? "" : "&cursor=" + cursor))).RootElement;
            var events = page.GetProperty("events").EnumerateArray().ToList();
            Assert.True(events.Count <= 2);
            seen.AddRange(events.Select(e => e.Clone()));
            cursor = page.TryGetProperty("next_cursor", out var next) ? next.GetString() : null;
        }
        while (cursor is not null);
        var actions = seen.Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("user.created", actions);
        Assert.Contains("token.created", actions);
        Assert.Contains("login", actions);
        Assert.Equal(seen.Select(e => e.GetProperty("id").GetInt64()).OrderDescending(), seen.Select(e => e.GetProperty("id").GetInt64()));
        using (var bad = await boss.GetAsync("api/v1/audit?limit=0")) Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using (var bad = await boss.GetAsync("api/v1/audit?cursor=abc")) Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Organizations_Are_Visible_To_Members_Only_And_Keep_An_Owner()
    {
        using var alice = _http.Basic("alice");
        using (var created = await alice.PostAsJsonAsync("api/v1/orgs", new { name = "acme" })) Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var taken = await alice.PostAsJsonAsync("api/v1/orgs", new { name = "boss" })) Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        await _http.SignUpAsync("dave");
        using var dave = _http.Basic("dave");
        using (var hidden = await dave.GetAsync("api/v1/orgs/acme")) Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        using (var notOwner = await dave.PutAsJsonAsync("api/v1/orgs/acme/members/dave", new { role = "owner" })) Assert.Equal(HttpStatusCode.NotFound, notOwner.StatusCode);
        using (var added = await alice.PutAsJsonAsync("api/v1/orgs/acme/members/dave", new { role = "reader" })) Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        using (var visible = await dave.GetAsync("api/v1/orgs/acme")) Assert.Equal(HttpStatusCode.OK, visible.StatusCode);
        using (var readerCannot = await dave.DeleteAsync("api/v1/orgs/acme/members/alice")) Assert.Equal(HttpStatusCode.Forbidden, readerCannot.StatusCode);
        using (var lastOwner = await alice.PutAsJsonAsync("api/v1/orgs/acme/members/alice", new { role = "reader" })) Assert.Equal(HttpStatusCode.Conflict, lastOwner.StatusCode);
        using (var removed = await alice.DeleteAsync("api/v1/orgs/acme/members/dave")) Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        using (var hiddenAgain = await dave.GetAsync("api/v1/orgs/acme")) Assert.Equal(HttpStatusCode.NotFound, hiddenAgain.StatusCode);
    }

    [Fact]
    public async Task Closed_Sign_Up_Refuses_Strangers_But_Not_The_First_User_Or_An_Admin()
    {
        await using var server = await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts, "--Wharf:Auth:SignUp=Closed");
        var http = new AccountsHttp(server);
        await http.SignUpAsync("first");
        using var anonymous = http.Anonymous();
        using (var refused = await anonymous.PostAsJsonAsync("api/v1/users", new { username = "second", password = AccountsHttp.Password })) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var admin = http.Basic("first");
        using (var ok = await admin.PostAsJsonAsync("api/v1/users", new { username = "second", password = AccountsHttp.Password })) Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }

    public static TheoryData<string, string, string, int> BadInput => new()
    {
        // endpoint, method, body (raw JSON; "FORM:" = wrong content type), expected status
        { "api/v1/users", "POST", """{"username":"","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", "{\"username\":\"" + new string('a', 65) + "\",\"password\":\"long-enough-1\"}", 400 },
        { "api/v1/users", "POST", """{"username":"a","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"zoë","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"Alice","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"x'; DROP TABLE users; --","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"x\" OR 1=1","password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"newbie"}""", 400 },
        { "api/v1/users", "POST", """{"password":"long-enough-1"}""", 400 },
        { "api/v1/users", "POST", """{"username":"newbie","password":"short"}""", 400 },
        { "api/v1/users", "POST", """{"username":"newbie","password":"long-enough-1","email":"not-an-email"}""", 400 },
        { "api/v1/users", "POST", """{"username":"newbie","password":12345678}""", 400 },
        { "api/v1/users", "POST", """{"username":"newbie",""", 400 },
        { "api/v1/users", "POST", "", 400 },
        { "api/v1/users", "POST", "[]", 400 },
        { "api/v1/users", "POST", "FORM:username=newbie&password=long-enough-1", 415 },
        { "api/v1/users", "POST", """{"username":"alice","password":"long-enough-1"}""", 409 },
        { "api/v1/tokens", "POST", """{"scopes":["pull"]}""", 400 },
        { "api/v1/tokens", "POST", """{"name":"t"}""", 400 },
        { "api/v1/tokens", "POST", """{"name":"t","scopes":["fly"]}""", 400 },
        { "api/v1/tokens", "POST", """{"name":"t","scopes":["pull"],"expires_in_days":0}""", 400 },
        { "api/v1/tokens", "POST", """{"name":"t","scopes":["pull"],"expires_at":"2001-01-01T00:00:00Z"}""", 400 },
        { "api/v1/tokens", "POST", """{"name":"t","scopes":["pull"],"expires_at":"yesterday"}""", 400 },
        { "api/v1/tokens", "POST", "FORM:name=t", 415 },
        { "api/v1/tokens/abc", "DELETE", "", 400 },
        { "api/v1/tokens/99999", "DELETE", "", 404 },
        { "api/v1/orgs", "POST", """{"name":"Bad Name"}""", 400 },
        { "api/v1/orgs", "POST", """{"name":"💥💥"}""", 400 },
        { "api/v1/orgs", "POST", """{}""", 400 },
        { "api/v1/orgs", "POST", "FORM:name=x", 415 },
        { "api/v1/orgs/nope/members/alice", "PUT", """{"role":"owner"}""", 404 },
        { "api/v1/orgs/nope/members/alice", "DELETE", "", 404 },
        { "api/v1/orgs/x'--/members/alice", "PUT", """{"role":"owner"}""", 404 },
        { "api/v1/user/password", "PUT", """{"current_password":"x"}""", 400 },
        { "api/v1/user/password", "PUT", """{"new_password":"long-enough-1"}""", 400 },
        { "api/v1/user/password", "PUT", "FORM:x=y", 415 },
        { "api/v1/repositories/alice/app", "PATCH", """{"visibility":"secret"}""", 400 },
        { "api/v1/repositories/alice/app", "PATCH", """{}""", 400 },
        { "api/v1/repositories/alice/app", "PATCH", "FORM:visibility=public", 415 },
        { "api/v1/repositories/alice/NOPE", "PATCH", """{"visibility":"public"}""", 400 },
        { "api/v1/repositories/alice/absent", "PATCH", """{"visibility":"public"}""", 404 },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_Input_Gets_A_Problem_And_Stores_Nothing(string path, string method, string body, int status)
    {
        using var alice = _http.Basic("alice");
        var before = await StateAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body.StartsWith("FORM:", StringComparison.Ordinal)) request.Content = new StringContent(body[5..], Encoding.UTF8, "application/x-www-form-urlencoded");
        else if (body.Length > 0 || method is "POST" or "PUT" or "PATCH") request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await alice.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{method} {path} {body}: expected {status}, got {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.Equal(before, await StateAsync());
    }

    /// <summary>Users, organizations and tokens, as counts of the store (what a bad request must not change).</summary>
    private async Task<string> StateAsync()
    {
        var store = (IAccountStore)_http.Server.Services.GetService(typeof(IAccountStore))!;
        var users = await store.CountUsersAsync(CancellationToken.None);
        var alice = await store.FindUserAsync("alice", CancellationToken.None);
        var tokens = await store.ListAccessTokensAsync(alice!.Id, CancellationToken.None);
        return $"{users} users, {tokens.Count} tokens, newbie={await store.FindUserAsync("newbie", CancellationToken.None) is not null}, org x={await store.FindOrganizationAsync("x", CancellationToken.None) is not null}, hash={alice.PasswordHash}";
    }
}
