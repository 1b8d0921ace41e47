using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Server.Tests.Registry;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// Namespaces that cannot be claimed by a later sign-up, the administrators' user verbs (list, disable, enable, unlock,
/// delete) and what the audit log records of sign-ins. <c>boss</c> is the administrator.
/// </summary>
public sealed class UserAdministrationTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task A_Namespace_An_Administrator_Pushed_To_Cannot_Be_Claimed_By_Signing_Up_But_An_Administrator_Can_Make_It_An_Organization()
    {
        using var boss = _http.Basic("boss");
        await new RegistryClient(boss).PushImageAsync("ghost/app", "v1");
        using var anonymous = _http.Anonymous();
        using (var refused = await anonymous.PostAsJsonAsync("api/v1/users", new { username = "ghost", password = AccountsHttp.Password }))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("organization", (await JsonAsync(refused)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        // Nor by creating an organization of that name.
        using var alice = _http.Basic("alice");
        using (var refused = await alice.PostAsJsonAsync("api/v1/orgs", new { name = "ghost" })) Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        using (var hidden = await alice.GetAsync("v2/ghost/app/manifests/v1")) Assert.Equal(HttpStatusCode.Forbidden, hidden.StatusCode);

        using (var created = await boss.PostAsJsonAsync("api/v1/orgs", new { name = "ghost" })) Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var added = await boss.PutAsJsonAsync("api/v1/orgs/ghost/members/alice", new { role = "maintainer" })) Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        using (var reachable = await alice.GetAsync("v2/ghost/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, reachable.StatusCode);
    }

    [Fact]
    public async Task Only_Administrators_List_Users()
    {
        using var boss = _http.Basic("boss");
        var page = JsonDocument.Parse(await boss.GetStringAsync("api/v1/users?limit=1")).RootElement;
        Assert.Equal("alice", page.GetProperty("users")[0].GetProperty("username").GetString());
        var next = JsonDocument.Parse(await boss.GetStringAsync("api/v1/users?limit=1&cursor=" + page.GetProperty("next_cursor").GetString())).RootElement;
        Assert.Equal("boss", next.GetProperty("users")[0].GetProperty("username").GetString());
        Assert.True(next.GetProperty("users")[0].GetProperty("is_admin").GetBoolean());
        using var alice = _http.Basic("alice");
        using (var refused = await alice.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var anonymous = _http.Anonymous();
        using (var refused = await anonymous.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // An administrator's personal access token without the admin scope does not administrate.
        using var bossPull = _http.Basic("boss", await _http.CreateAccessTokenAsync("boss", "pull"));
        using (var refused = await bossPull.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var bad = await boss.GetAsync("api/v1/users?limit=0")) Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task A_Disabled_User_Can_Use_No_Credential_Until_Enabled()
    {
        await _http.SignUpAsync("mallory");
        using (var mallory = _http.Basic("mallory")) await new RegistryClient(mallory).PushImageAsync("mallory/app", "v1");
        var pat = await _http.CreateAccessTokenAsync("mallory", "pull", "push");
        var session = await _http.GetRefreshTokenAsync("mallory", AccountsHttp.Password);
        var jwt = await _http.GetTokenAsync("mallory", "repository:mallory/app:pull");
        var cookie = await _http.SignInWithFormAsync("mallory");
        using (var web = _http.WithCookie(cookie))
        using (var ok = await web.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using var boss = _http.Basic("boss");
        using (var disabled = await boss.PatchAsJsonAsync("api/v1/users/mallory", new { disabled = true }))
        {
            Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
            Assert.True((await JsonAsync(disabled)).GetProperty("disabled").GetBoolean());
        }

        using (var password = _http.Basic("mallory"))
        using (var refused = await password.GetAsync("api/v1/user"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("disabled", (await JsonAsync(refused)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var password = _http.Basic("mallory"))
        using (var refused = await password.GetAsync("auth/token?service=wharf&scope=repository:mallory/app:pull")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var token = _http.Basic("mallory", pat))
        using (var refused = await token.GetAsync("v2/mallory/app/manifests/v1")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var bearer = _http.Bearer(jwt))
        using (var refused = await bearer.GetAsync("v2/mallory/app/manifests/v1")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var refused = await _http.RedeemAsync(session, "repository:mallory/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var web = _http.WithCookie(cookie))
        using (var refused = await web.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var anonymous = _http.Anonymous())
        using (var refused = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "mallory", ["password"] = AccountsHttp.Password, ["client_id"] = "test",
        })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var enabled = await boss.PatchAsJsonAsync("api/v1/users/mallory", new { disabled = false })) Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        using (var password = _http.Basic("mallory"))
        using (var ok = await password.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var token = _http.Basic("mallory", pat))
        using (var ok = await token.GetAsync("v2/mallory/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // What disabling ended stays ended.
        using (var refused = await _http.RedeemAsync(session, "repository:mallory/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using (var self = await boss.PatchAsJsonAsync("api/v1/users/boss", new { disabled = true })) Assert.Equal(HttpStatusCode.Conflict, self.StatusCode);
        using (var missing = await boss.PatchAsJsonAsync("api/v1/users/nobody", new { disabled = true })) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using (var bad = await boss.PatchAsJsonAsync("api/v1/users/mallory", new { })) Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var alice = _http.Basic("alice");
        using (var refused = await alice.PatchAsJsonAsync("api/v1/users/mallory", new { disabled = true })) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task An_Administrator_Makes_Another_User_An_Administrator_And_Taking_It_Away_Ends_Their_Sessions()
    {
        await _http.SignUpAsync("carol");
        using var carol = _http.Basic("carol");
        using (var refused = await carol.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var refused = await carol.PatchAsJsonAsync("api/v1/users/carol", new { is_admin = true })) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var boss = _http.Basic("boss");
        using (var made = await boss.PatchAsJsonAsync("api/v1/users/carol", new { is_admin = true }))
        {
            Assert.Equal(HttpStatusCode.OK, made.StatusCode);
            Assert.True((await JsonAsync(made)).GetProperty("is_admin").GetBoolean());
        }
        using (var now = await carol.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.OK, now.StatusCode);
        var session = await _http.GetRefreshTokenAsync("carol", AccountsHttp.Password);

        // Nobody takes their own rights away (an instance keeps an administrator); another administrator may.
        using (var self = await boss.PatchAsJsonAsync("api/v1/users/boss", new { is_admin = false })) Assert.Equal(HttpStatusCode.Conflict, self.StatusCode);
        using (var taken = await boss.PatchAsJsonAsync("api/v1/users/carol", new { is_admin = false }))
        {
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
            Assert.False((await JsonAsync(taken)).GetProperty("is_admin").GetBoolean());
        }
        using (var refused = await carol.GetAsync("api/v1/users")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var refused = await _http.RedeemAsync(session, "repository:carol/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var missing = await boss.PatchAsJsonAsync("api/v1/users/nobody", new { is_admin = true })) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Both fields at once: made an administrator and disabled.
        using (var both = await boss.PatchAsJsonAsync("api/v1/users/carol", new { is_admin = true, disabled = true }))
        {
            var body = await JsonAsync(both);
            Assert.True(body.GetProperty("is_admin").GetBoolean());
            Assert.True(body.GetProperty("disabled").GetBoolean());
        }
        var audit = await _http.AuditAsync("boss");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "user.made_admin" && e.GetProperty("target").GetString() == "carol");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "user.admin_removed" && e.GetProperty("target").GetString() == "carol");
    }

    [Fact]
    public async Task Deleting_A_User_Removes_Their_Credentials_Keeps_Their_Repositories_And_Keeps_The_Name_Taken()
    {
        await _http.SignUpAsync("leaver");
        using (var leaver = _http.Basic("leaver"))
        {
            await new RegistryClient(leaver).PushImageAsync("leaver/app", "v1");
            using var org = await leaver.PostAsJsonAsync("api/v1/orgs", new { name = "leavers-org" });
            Assert.Equal(HttpStatusCode.Created, org.StatusCode);
            using var credential = await leaver.PostAsJsonAsync("api/v1/registry-credentials", new { host = "127.0.0.1:1", username = "u", secret = "s" });
            Assert.True(credential.IsSuccessStatusCode, await credential.Content.ReadAsStringAsync());
        }
        var pat = await _http.CreateAccessTokenAsync("leaver", "pull");
        var session = await _http.GetRefreshTokenAsync("leaver", AccountsHttp.Password);

        using var boss = _http.Basic("boss");
        using (var deleted = await boss.DeleteAsync("api/v1/users/leaver"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            var body = await JsonAsync(deleted);
            Assert.Equal(1, body.GetProperty("repositories_kept").GetInt64());
            Assert.Equal(["leavers-org"], body.GetProperty("organizations_without_owner").EnumerateArray().Select(o => o.GetString()));
            Assert.Contains("kept", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var password = _http.Basic("leaver"))
        using (var refused = await password.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var token = _http.Basic("leaver", pat))
        using (var refused = await token.GetAsync("v2/")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var refused = await _http.RedeemAsync(session, "repository:leaver/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // The repository is still there for administrators; the name cannot be signed up for again.
        using (var kept = await boss.GetAsync("v2/leaver/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        using (var anonymous = _http.Anonymous())
        using (var refused = await anonymous.PostAsJsonAsync("api/v1/users", new { username = "leaver", password = AccountsHttp.Password }))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        }
        // An administrator hands the namespace over through an organization.
        using (var adopted = await boss.PostAsJsonAsync("api/v1/orgs", new { name = "leaver" })) Assert.Equal(HttpStatusCode.Created, adopted.StatusCode);
        using (var again = await boss.DeleteAsync("api/v1/users/leaver")) Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        using (var self = await boss.DeleteAsync("api/v1/users/boss")) Assert.Equal(HttpStatusCode.Conflict, self.StatusCode);
        var audit = await _http.AuditAsync("boss");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "user.deleted" && e.GetProperty("target").GetString() == "leaver");
    }

    [Fact]
    public async Task The_Audit_Log_Records_Sign_Ins_Not_Every_Request()
    {
        await _http.SignUpAsync("hank");
        var pat = await _http.CreateAccessTokenAsync("hank", "pull");
        using (var withPat = _http.Basic("hank", pat))
        {
            for (var i = 0; i < 5; i++)
            {
                using var ok = await withPat.GetAsync("api/v1/user");
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            }
        }
        using (var bearer = _http.Bearer(pat))
        using (var ok = await bearer.GetAsync("api/v1/tokens")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.DoesNotContain(await _http.AuditAsync("boss"), e => e.GetProperty("action").GetString() == "login" && e.GetProperty("actor").GetString() == "hank");

        // A token issued for credentials is a sign-in (docker login, a pull with stored credentials), with its client.
        await _http.GetRefreshTokenAsync("hank", pat, "docker");
        var logins = (await _http.AuditAsync("boss")).Where(e => e.GetProperty("action").GetString() == "login" && e.GetProperty("actor").GetString() == "hank").ToList();
        var login = Assert.Single(logins);
        Assert.True(login.GetProperty("success").GetBoolean());
        Assert.Contains("docker", login.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", login.GetProperty("client_address").GetString());

        // A web sign-in is a sign-in too.
        await _http.SignInWithFormAsync("hank");
        Assert.Contains(await _http.AuditAsync("boss"), e => e.GetProperty("action").GetString() == "login" && e.GetProperty("actor").GetString() == "hank"
            && e.GetProperty("detail").GetString()!.StartsWith("web", StringComparison.Ordinal));

        using (var wrong = _http.Basic("hank", "wrong-password"))
        using (var refused = await wrong.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains(await _http.AuditAsync("boss"), e => e.GetProperty("action").GetString() == "login" && !e.GetProperty("success").GetBoolean()
            && e.GetProperty("target").GetString() == "hank");
    }
}
