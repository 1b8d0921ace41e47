using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// Registry tokens keep to their <c>access</c> claim on every surface, and refresh tokens (sessions) to the scopes of the
/// credential that made them; both die with a password change, and sessions with their personal access token.
/// One Wharf with <c>boss</c> (administrator), <c>alice</c> (owner of the organization <c>team</c>, with the public
/// repository <c>team/pub</c> and the private <c>alice/secret</c>).
/// </summary>
public sealed class TokenScopeTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
        using var alice = _http.Basic("alice");
        Assert.Equal(HttpStatusCode.Created, (await alice.PostAsJsonAsync("api/v1/orgs", new { name = "team" })).StatusCode);
        var registry = new RegistryClient(alice);
        await registry.PushImageAsync("team/pub", "v1", "pub");
        await registry.PushImageAsync("alice/secret", "v1", "secret");
        Assert.Equal(HttpStatusCode.OK, (await alice.PatchAsJsonAsync("api/v1/repositories/team/pub", new { visibility = "public" })).StatusCode);
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task A_Registry_Token_From_A_Pull_Only_Token_Is_Refused_On_The_Rest_Api_For_Every_Write_And_Read()
    {
        var pat = await _http.CreateAccessTokenAsync("alice", "pull");
        var jwt = (await _http.GetTokenResponseAsync("alice", pat, "repository:team/pub:pull")).GetProperty("token").GetString()!;
        using var bearer = _http.Bearer(jwt);
        // Each of these answered 2xx before: the token was taken as the whole user.
        var attempts = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Delete, "api/v1/repositories/team/pub", null),
            (HttpMethod.Post, "api/v1/repositories", new { @namespace = "alice", name = "made-by-jwt" }),
            (HttpMethod.Delete, "api/v1/repositories/team/pub/tags/v1", null),
            (HttpMethod.Get, "api/v1/registry-credentials", null),
            (HttpMethod.Post, "api/v1/registry-credentials", new { host = "127.0.0.1:1", username = "u", secret = "s" }),
            (HttpMethod.Get, "api/v1/user", null),
            (HttpMethod.Get, "api/v1/repositories/alice/secret", null),
            (HttpMethod.Get, "api/v1/search?q=secret", null),
        };
        foreach (var (method, path, body) in attempts)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await bearer.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("/v2/ only", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using var alice = _http.Basic("alice");
        using (var still = await alice.GetAsync("api/v1/repositories/team/pub/tags")) Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        using (var none = await alice.GetAsync("api/v1/repositories/alice/made-by-jwt")) Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        // On /v2/ the same token does exactly what its access claim says.
        using (var pull = await bearer.GetAsync("v2/team/pub/manifests/v1")) Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        using (var push = await bearer.PostAsync("v2/team/pub/blobs/uploads/", null)) Assert.Equal(HttpStatusCode.Unauthorized, push.StatusCode);
    }

    [Fact]
    public async Task An_Internal_Credential_Is_Refused_Outside_The_Registry()
    {
        var credential = (await _http.Server.Services.GetRequiredService<IInternalCredentials>()
            .IssueAsync("alice", "alice/secret", RegistryActions.Pull | RegistryActions.Push, TimeSpan.FromMinutes(5), CancellationToken.None))!;
        using var basic = _http.Basic(credential.Username, credential.Password);
        using (var api = await basic.DeleteAsync("api/v1/repositories/alice/secret")) Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using (var build = await basic.GetAsync("api/v1/builds")) Assert.Equal(HttpStatusCode.Unauthorized, build.StatusCode);
        using (var v2 = await basic.GetAsync("v2/alice/secret/manifests/v1")) Assert.Equal(HttpStatusCode.OK, v2.StatusCode);
    }

    [Fact]
    public async Task Docker_Search_With_A_Search_Token_Lists_What_Its_Subject_May_Pull_And_No_More()
    {
        var search = (await _http.GetTokenResponseAsync("alice", null, "registry:catalog:search")).GetProperty("token").GetString()!;
        Assert.Equal("search", string.Join(',', AccountsHttp.Payload(search).GetProperty("access")[0].GetProperty("actions").EnumerateArray().Select(a => a.GetString())));
        using (var bearer = _http.Bearer(search))
        {
            var found = JsonDocument.Parse(await bearer.GetStringAsync("v1/search?q=secret")).RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("name").GetString());
            Assert.Contains("alice/secret", found);
        }
        // A token for one public repository lists nothing of alice's private ones.
        var narrow = (await _http.GetTokenResponseAsync("alice", null, "repository:team/pub:pull")).GetProperty("token").GetString()!;
        using (var bearer = _http.Bearer(narrow))
        {
            var found = JsonDocument.Parse(await bearer.GetStringAsync("v1/search?q=secret")).RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("name").GetString());
            Assert.DoesNotContain("alice/secret", found);
        }
    }

    [Fact]
    public async Task A_Password_Change_Ends_Registry_Tokens_And_Sessions_Issued_Before_It_At_Once()
    {
        await _http.SignUpAsync("carol");
        using (var carol = _http.Basic("carol")) await new RegistryClient(carol).PushImageAsync("carol/app", "v1");
        var jwt = await _http.GetTokenAsync("carol", "repository:carol/app:pull");
        var session = await _http.GetRefreshTokenAsync("carol", AccountsHttp.Password);
        var pat = await _http.CreateAccessTokenAsync("carol", "pull");
        var patSession = await _http.GetRefreshTokenAsync("carol", pat);
        using var bearer = _http.Bearer(jwt);
        using var sessionBearer = _http.Bearer(session);
        using (var ok = await bearer.GetAsync("v2/carol/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var ok = await sessionBearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using (var carol = _http.Basic("carol"))
        using (var changed = await carol.PutAsJsonAsync("api/v1/user/password", new { current_password = AccountsHttp.Password, new_password = "another-password" }))
        {
            Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        }

        using (var refused = await bearer.GetAsync("v2/carol/app/manifests/v1"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("error=\"invalid_token\"", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        using (var refused = await sessionBearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var refused = await _http.RedeemAsync(session, "repository:carol/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var refused = await _http.RedeemAsync(patSession, "repository:carol/app:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // The personal access token itself is managed on its own and stays.
        using var withPat = _http.Basic("carol", pat);
        using (var ok = await withPat.GetAsync("v2/carol/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_Session_From_A_Pull_Only_Token_Is_Redeemed_For_Pull_Only_And_Ends_With_The_Token()
    {
        var pat = await _http.CreateAccessTokenAsync("alice", "pull");
        var session = await _http.GetRefreshTokenAsync("alice", pat);

        using (var redeemed = await _http.RedeemAsync(session, "repository:alice/secret:pull,push,delete"))
        {
            Assert.Equal(HttpStatusCode.OK, redeemed.StatusCode);
            var body = JsonDocument.Parse(await redeemed.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(new Dictionary<string, string> { ["alice/secret"] = "pull" }, AccountsHttp.Access(body));
        }
        // As a bearer on the REST API it reads, and does no more than pull allows.
        using var sessionBearer = _http.Bearer(session);
        using (var ok = await sessionBearer.GetAsync("api/v1/repositories/alice/secret")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var refused = await sessionBearer.PostAsJsonAsync("api/v1/repositories", new { @namespace = "alice", name = "nope" })) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var refused = await sessionBearer.PostAsJsonAsync("api/v1/tokens", new { name = "escalate", scopes = new[] { "admin" } })) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var alice = _http.Basic("alice");
        var tokens = JsonDocument.Parse(await alice.GetStringAsync("api/v1/tokens")).RootElement.GetProperty("tokens").EnumerateArray();
        var id = tokens.Single(t => pat.StartsWith(t.GetProperty("prefix").GetString()!, StringComparison.Ordinal)).GetProperty("id").GetInt64();
        using (var revoked = await alice.DeleteAsync($"api/v1/tokens/{id}")) Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        using (var refused = await _http.RedeemAsync(session, "repository:alice/secret:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var refused = await sessionBearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task Sessions_Are_Listed_With_Their_Credential_And_Revoked_By_Their_Owner()
    {
        await _http.SignUpAsync("dave");
        var pat = await _http.CreateAccessTokenAsync("dave", "pull", "push");
        var byPassword = await _http.GetRefreshTokenAsync("dave", AccountsHttp.Password, "docker");
        var byToken = await _http.GetRefreshTokenAsync("dave", pat, "wharf");

        using var sessionBearer = _http.Bearer(byPassword);
        var sessions = JsonDocument.Parse(await sessionBearer.GetStringAsync("api/v1/sessions")).RootElement.GetProperty("sessions").EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        var docker = sessions.Single(s => s.GetProperty("client_id").GetString() == "docker");
        var wharf = sessions.Single(s => s.GetProperty("client_id").GetString() == "wharf");
        Assert.Equal("password", docker.GetProperty("credential").GetString());
        Assert.True(docker.GetProperty("current").GetBoolean());
        Assert.Equal(["pull", "push", "delete", "admin"], docker.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("token", wharf.GetProperty("credential").GetString());
        Assert.Equal(["pull", "push"], wharf.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("127.0.0.1", wharf.GetProperty("client_address").GetString());

        // The password session may revoke the other; the token's session then works no more.
        using (var revoked = await sessionBearer.DeleteAsync($"api/v1/sessions/{wharf.GetProperty("id").GetInt64()}")) Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        using (var refused = await _http.RedeemAsync(byToken, "repository:dave/x:pull")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // Another user cannot see or revoke dave's sessions.
        using (var alice = _http.Basic("alice"))
        {
            var hers = JsonDocument.Parse(await alice.GetStringAsync("api/v1/sessions")).RootElement.GetProperty("sessions");
            Assert.DoesNotContain(hers.EnumerateArray(), s => s.GetProperty("id").GetInt64() == docker.GetProperty("id").GetInt64());
            using var foreign = await alice.DeleteAsync($"api/v1/sessions/{docker.GetProperty("id").GetInt64()}");
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }
        // Logging out: a session revokes itself.
        using (var logout = await sessionBearer.DeleteAsync("api/v1/sessions/current")) Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        using (var refused = await sessionBearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var dave = _http.Basic("dave"))
        {
            Assert.Empty(JsonDocument.Parse(await dave.GetStringAsync("api/v1/sessions")).RootElement.GetProperty("sessions").EnumerateArray());
            using var bad = await dave.DeleteAsync("api/v1/sessions/abc");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
    }

    [Fact]
    public async Task Each_User_Keeps_A_Bounded_Number_Of_Sessions()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Auth:MaxSessionsPerUser=3");
        var http = new AccountsHttp(server);
        await http.SignUpAsync("erin");
        var first = await http.GetRefreshTokenAsync("erin", AccountsHttp.Password);
        for (var i = 0; i < 4; i++) await http.GetRefreshTokenAsync("erin", AccountsHttp.Password);
        using var erin = http.Basic("erin");
        Assert.Equal(3, JsonDocument.Parse(await erin.GetStringAsync("api/v1/sessions")).RootElement.GetProperty("sessions").GetArrayLength());
        using var oldest = await http.RedeemAsync(first, "repository:erin/x:pull");
        Assert.Equal(HttpStatusCode.Unauthorized, oldest.StatusCode);
    }
}
