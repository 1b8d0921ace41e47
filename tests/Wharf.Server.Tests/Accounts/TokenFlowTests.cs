using Wharf.Core.Storage;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>The Docker token flow: challenge, grants, refresh tokens, the OAuth2 form, internal credentials, and refused tokens.</summary>
public class TokenFlowTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    /// <summary>The providers this class's servers run on (a derived class runs the same tests on PostgreSQL).</summary>
    protected virtual WharfTestProviders Providers => WharfTestProviders.Default;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts, "--Wharf:Auth:MaxFailedLogins=3"));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
        using var alice = _http.Basic("alice");
        await new RegistryClient(alice).PushImageAsync("alice/app", "v1");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task Base_Endpoint_Challenges_Anonymous_Callers_With_The_Token_Realm()
    {
        using var http = _http.Anonymous();
        using var response = await http.GetAsync("v2/");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal($"Bearer realm=\"{_http.Server.BaseUrl}/auth/token\",service=\"wharf\"", response.Headers.WwwAuthenticate.ToString());
        using var manifest = await http.GetAsync("v2/alice/app/manifests/v1");
        Assert.Equal(HttpStatusCode.Unauthorized, manifest.StatusCode);
        Assert.Contains("scope=\"repository:alice/app:pull\"", manifest.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_Grants_The_Intersection_Of_Requested_And_Allowed_Actions_For_Each_Scope()
    {
        var response = await _http.GetTokenResponseAsync("alice", null, "repository:alice/app:pull,push,delete", "repository:boss/other:pull,push", "repository:alice/new:push");
        var token = response.GetProperty("token").GetString()!;
        Assert.Equal(token, response.GetProperty("access_token").GetString());
        Assert.Equal(300, response.GetProperty("expires_in").GetInt32());
        Assert.True(response.TryGetProperty("issued_at", out _));
        var payload = AccountsHttp.Payload(token);
        Assert.Equal("alice", payload.GetProperty("sub").GetString());
        Assert.Equal("wharf", payload.GetProperty("aud").GetString());
        var access = payload.GetProperty("access").EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!, a => string.Join(',', a.GetProperty("actions").EnumerateArray().Select(x => x.GetString())));
        Assert.Equal("pull,push,delete", access["alice/app"]);
        Assert.Equal("push", access["alice/new"]);
        Assert.False(access.ContainsKey("boss/other"));
        var header = JsonDocument.Parse(Base64UrlDecode(token.Split('.')[0])).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Matches("^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$", header.GetProperty("kid").GetString());
    }

    [Fact]
    public async Task A_Pull_Only_Token_Gets_Insufficient_Scope_On_Push_And_A_Mount_Token_Carries_Both_Repositories()
    {
        var pullOnly = await _http.GetTokenAsync("alice", "repository:alice/app:pull");
        using var http = _http.Bearer(pullOnly);
        using (var get = await http.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using (var push = await http.PostAsync("v2/alice/app/blobs/uploads/", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, push.StatusCode);
            Assert.Contains("error=\"insufficient_scope\"", push.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            Assert.Contains("scope=\"repository:alice/app:pull,push\"", push.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        using var alice = _http.Basic("alice");
        var layer = (await new RegistryClient(alice).PushImageAsync("alice/src", "v1", "m")).Layer;
        var mountToken = await _http.GetTokenAsync("alice", "repository:alice/dst:pull,push", "repository:alice/src:pull");
        using var mounter = _http.Bearer(mountToken);
        using var mount = await mounter.PostAsync($"v2/alice/dst/blobs/uploads/?mount={layer}&from=alice/src", null);
        Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
    }

    [Fact]
    public async Task Offline_Token_Returns_A_Refresh_Token_That_The_OAuth_Form_Redeems()
    {
        using var http = _http.Basic("alice");
        using var get = await http.GetAsync("auth/token?service=wharf&client_id=test&offline_token=true&scope=repository:alice/app:pull");
        var body = JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement;
        var refresh = body.GetProperty("refresh_token").GetString()!;
        using var anonymous = _http.Anonymous();
        using var post = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["client_id"] = "test", ["service"] = "wharf", ["scope"] = "repository:alice/app:pull,push",
        }));
        var refreshed = JsonDocument.Parse(await post.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal("repository:alice/app:pull,push", refreshed.GetProperty("scope").GetString());
        using var pull = _http.Bearer(refreshed.GetProperty("access_token").GetString()!);
        using var manifest = await pull.GetAsync("v2/alice/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);

        using var bad = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = "wharf_rt_nope", ["client_id"] = "test",
        }));
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
    }

    [Fact]
    public async Task OAuth_Password_Grant_Issues_A_Token_And_Refuses_Bad_Forms()
    {
        using var anonymous = _http.Anonymous();
        using var ok = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "alice", ["password"] = AccountsHttp.Password, ["client_id"] = "test", ["access_type"] = "offline",
            ["scope"] = "repository:alice/app:pull",
        }));
        var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.StartsWith("wharf_rt_", body.GetProperty("refresh_token").GetString(), StringComparison.Ordinal);
        using var noClient = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password" }));
        Assert.Equal(HttpStatusCode.BadRequest, noClient.StatusCode);
        using var grant = await anonymous.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "magic", ["client_id"] = "x" }));
        Assert.Equal(HttpStatusCode.BadRequest, grant.StatusCode);
        using var json = await anonymous.PostAsJsonAsync("auth/token", new { grant_type = "password" });
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
    }

    [Fact]
    public async Task Basic_Auth_Directly_On_V2_Works_And_A_Wrong_Password_Is_401()
    {
        using var alice = _http.Basic("alice");
        using (var ok = await alice.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var wrong = _http.Basic("alice", "wrong-password");
        using var refused = await wrong.GetAsync("v2/alice/app/manifests/v1");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.StartsWith("Bearer realm=", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_Logins_Are_Rate_Limited_Per_User_With_Retry_After()
    {
        await _http.SignUpAsync("victim");
        using var wrong = _http.Basic("victim", "wrong-password");
        for (var i = 0; i < 3; i++)
        {
            using var attempt = await wrong.GetAsync("auth/token?service=wharf");
            Assert.Equal(HttpStatusCode.Unauthorized, attempt.StatusCode);
        }
        foreach (var path in new[] { "auth/token?service=wharf", "v2/", "api/v1/user" })
        {
            using var limited = await wrong.GetAsync(path);
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, path);
        }
        // Even the right password waits: the limit is on the user name.
        using var right = _http.Basic("victim");
        using var stillLimited = await right.GetAsync("v2/");
        Assert.Equal(HttpStatusCode.TooManyRequests, stillLimited.StatusCode);
    }

    [Fact]
    public async Task Internal_Credentials_Work_As_Basic_And_At_The_Token_Endpoint_Only_For_Their_Repository()
    {
        var credentials = _http.Server.Services.GetRequiredService<IInternalCredentials>();
        var credential = (await credentials.IssueAsync("alice", "alice/app", RegistryActions.Pull | RegistryActions.Push, TimeSpan.FromMinutes(5), CancellationToken.None))!;
        Assert.Equal("alice", credential.Username);
        using var basic = _http.Basic(credential.Username, credential.Password);
        using (var ok = await basic.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var other = await basic.GetAsync("v2/alice/src/tags/list")) Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        using (var delete = await basic.DeleteAsync($"v2/alice/app/manifests/sha256:{new string('0', 64)}")) Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        var token = await _http.GetTokenResponseAsync(credential.Username, credential.Password, "repository:alice/app:pull,push,delete", "repository:alice/src:pull");
        var access = AccountsHttp.Payload(token.GetProperty("token").GetString()!).GetProperty("access");
        Assert.Equal(1, access.GetArrayLength());
        Assert.Equal("pull,push", string.Join(',', access[0].GetProperty("actions").EnumerateArray().Select(a => a.GetString())));
        // The internal credential is not a bearer token, and not someone else's password.
        using var asBearer = _http.Bearer(credential.Password);
        using (var refused = await asBearer.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var asBoss = _http.Basic("boss", credential.Password);
        using (var refused = await asBoss.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task A_Build_Credential_Pulls_What_Its_Owner_May_Pull_And_Pushes_Only_Its_Target()
    {
        await _http.SignUpAsync("carol");
        using (var boss = _http.Basic("boss"))
        {
            await new RegistryClient(boss).PushImageAsync("boss/private", "v1");
            await new RegistryClient(boss).PushImageAsync("library/base", "v1");
            using var visible = await boss.PatchAsJsonAsync("api/v1/repositories/library/base", new { visibility = "public" });
            Assert.True(visible.IsSuccessStatusCode, await visible.Content.ReadAsStringAsync());
        }
        var credentials = _http.Server.Services.GetRequiredService<IInternalCredentials>();
        var credential = (await credentials.IssueForBuildAsync("alice", "alice/built", TimeSpan.FromMinutes(5), CancellationToken.None))!;
        using var basic = _http.Basic(credential.Username, credential.Password);
        // Pull: a public repository of another namespace, and the owner's own private repository, besides the target.
        using (var ok = await basic.GetAsync("v2/library/base/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var ok = await basic.GetAsync("v2/alice/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // Never a private repository the owner cannot read: refused exactly like one that does not exist.
        using (var denied = await basic.GetAsync("v2/boss/private/manifests/v1")) Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        using (var missing = await basic.GetAsync("v2/boss/missing/manifests/v1")) Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
        // Never push, or delete, outside the target, even in the owner's own namespace.
        using (var push = await basic.PostAsync("v2/alice/app/blobs/uploads/", null)) Assert.Equal(HttpStatusCode.Forbidden, push.StatusCode);
        using (var push = await basic.PostAsync("v2/alice/built/blobs/uploads/", null)) Assert.Equal(HttpStatusCode.Accepted, push.StatusCode);
        using (var delete = await basic.DeleteAsync($"v2/alice/app/manifests/sha256:{new string('0', 64)}")) Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        // The token endpoint grants the same: pull where the owner may pull, push on the target only.
        var token = await _http.GetTokenResponseAsync(credential.Username, credential.Password,
            "repository:alice/built:pull,push", "repository:library/base:pull,push", "repository:alice/app:pull,push,delete", "repository:boss/private:pull");
        var access = AccountsHttp.Payload(token.GetProperty("token").GetString()!).GetProperty("access").EnumerateArray()
            .ToDictionary(a => a.GetProperty("name").GetString()!, a => string.Join(',', a.GetProperty("actions").EnumerateArray().Select(x => x.GetString())));
        Assert.Equal(new Dictionary<string, string> { ["alice/built"] = "pull,push", ["library/base"] = "pull", ["alice/app"] = "pull" }, access);
        // Not someone else's: the credential is alice's, and the plain internal credential keeps to its one repository.
        using var asCarol = _http.Basic("carol", credential.Password);
        using (var refused = await asCarol.GetAsync("v2/library/base/manifests/v1")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var plain = (await credentials.IssueAsync("alice", "alice/built", RegistryActions.Pull | RegistryActions.Push, TimeSpan.FromMinutes(5), CancellationToken.None))!;
        using var plainBasic = _http.Basic(plain.Username, plain.Password);
        using (var other = await plainBasic.GetAsync("v2/library/base/manifests/v1")) Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }

    public static TheoryData<string> Tampering => ["valid", "expired", "wrong-signature", "wrong-audience", "wrong-issuer", "tampered-access", "alg-none", "garbage"];

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task Bearer_Tokens_Are_Refused_When_Expired_Forged_Or_Tampered(string kind)
    {
        using var key = ECDsa.Create();
        var stored = await _http.Server.Services.GetRequiredService<Wharf.Core.Storage.ISharedFileStore>().ReadAllBytesAsync(Wharf.Server.Accounts.TokenSigningKey.SharedPath, CancellationToken.None);
        key.ImportFromPem(System.Text.Encoding.UTF8.GetString(stored!));
        var kid = (string)JsonDocument.Parse(Base64UrlDecode((await _http.GetTokenAsync("alice")).Split('.')[0])).RootElement.GetProperty("kid").GetString()!;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["iss"] = "wharf-token-service", ["sub"] = "alice", ["aud"] = kind == "wrong-audience" ? "other-registry" : "wharf",
            ["exp"] = kind == "expired" ? now - 600 : now + 300, ["nbf"] = now - 900, ["iat"] = now - 900, ["jti"] = "t",
            ["access"] = new[] { new { type = "repository", name = "alice/app", actions = new[] { "pull" } } },
        };
        if (kind == "wrong-issuer") claims["iss"] = "someone-else";
        var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { typ = "JWT", alg = kind == "alg-none" ? "none" : "ES256", kid }));
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signer = key;
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (kind == "wrong-signature") signer = otherKey;
        var signature = Base64Url(signer.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256));
        if (kind == "tampered-access")
        {
            claims["access"] = new[] { new { type = "repository", name = "boss/secret", actions = new[] { "pull" } } };
            payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        }
        var token = kind switch
        {
            "alg-none" => header + "." + payload + ".",
            "garbage" => "not.a.token",
            _ => header + "." + payload + "." + signature,
        };
        using var http = _http.Bearer(token);
        using var response = await http.GetAsync(kind == "tampered-access" ? "v2/boss/secret/tags/list" : "v2/alice/app/manifests/v1");
        if (kind == "valid")
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Base64UrlDecode(string text)
    {
        text = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(text.PadRight(text.Length + (4 - text.Length % 4) % 4, '='));
    }
}
