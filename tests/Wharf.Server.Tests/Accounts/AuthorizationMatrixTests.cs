using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// One Wharf in accounts mode with: an administrator (<c>boss</c>, the first user), the organization <c>team</c>
/// (owner <c>ownr</c>, maintainer <c>mntr</c>, reader <c>rdr</c>), a user outside it (<c>othr</c>), the public
/// repository <c>team/pub</c>, the private <c>team/priv</c>, and <c>vault/src</c>, private to the administrator, as
/// the source of cross-repository mounts.
/// </summary>
public sealed class MatrixFixture : IAsyncLifetime
{
    public const string Public = "team/pub";
    public const string Private = "team/priv";
    public const string Vault = "vault/src";

    internal AccountsHttp Http { get; private set; } = null!;
    public string VaultLayer { get; private set; } = "";
    public Dictionary<string, string> ManifestDigests { get; } = [];
    public Dictionary<string, string> AccessTokens { get; } = [];

    public async Task InitializeAsync()
    {
        var server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        Http = new AccountsHttp(server);
        foreach (var user in new[] { "boss", "ownr", "mntr", "rdr", "othr" }) await Http.SignUpAsync(user);
        using (var owner = Http.Basic("ownr"))
        {
            Assert.Equal(HttpStatusCode.Created, (await owner.PostAsJsonAsync("api/v1/orgs", new { name = "team" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await owner.PutAsJsonAsync("api/v1/orgs/team/members/mntr", new { role = "maintainer" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await owner.PutAsJsonAsync("api/v1/orgs/team/members/rdr", new { role = "reader" })).StatusCode);
            var registry = new RegistryClient(owner);
            ManifestDigests[Public] = (await registry.PushImageAsync(Public, "v1", "pub")).Digest.ToString();
            ManifestDigests[Private] = (await registry.PushImageAsync(Private, "v1", "priv")).Digest.ToString();
            Assert.Equal(HttpStatusCode.OK, (await owner.PatchAsJsonAsync("api/v1/repositories/team/pub", new { visibility = "public" })).StatusCode);
        }
        using (var boss = Http.Basic("boss"))
        {
            Assert.Equal(HttpStatusCode.Created, (await boss.PostAsJsonAsync("api/v1/orgs", new { name = "vault" })).StatusCode);
            VaultLayer = (await new RegistryClient(boss).PushImageAsync(Vault, "v1", "vault")).Layer.ToString();
        }
        foreach (var user in new[] { "boss", "ownr", "mntr", "rdr", "othr" }) AccessTokens[user] = await Http.CreateAccessTokenAsync(user, "admin");
    }

    public async Task DisposeAsync() => await Http.Server.DisposeAsync();
}

/// <summary>
/// Every cell of role × credential × repository × action with its exact expected status: 6 roles (anonymous, other
/// user, reader, maintainer, owner, admin) × 2 credentials (password/none, token) × 2 repositories (public,
/// private) × 8 actions = 192 cells. "token" is a registry bearer token from <c>/auth/token</c> on <c>/v2/</c> (an
/// anonymous one for the anonymous role) and a personal access token as Bearer on <c>/api/v1</c>.
/// </summary>
public sealed class AuthorizationMatrixTests(MatrixFixture fixture) : IClassFixture<MatrixFixture>
{
    public static readonly string[] Roles = ["anonymous", "othr", "rdr", "mntr", "ownr", "boss"];
    public static readonly string[] Credentials = ["password", "token"];
    public static readonly string[] Repositories = [MatrixFixture.Public, MatrixFixture.Private];
    public static readonly string[] Actions = ["pull", "push", "delete", "mount", "tags", "referrers", "catalog", "api-visibility"];

    /// <summary>The /v2 actions each role may do on each repository; everything else is refused.</summary>
    private static readonly Dictionary<(string Role, string Repository), string[]> Allowed = new()
    {
        [("anonymous", MatrixFixture.Public)] = ["pull", "tags", "referrers"],
        [("anonymous", MatrixFixture.Private)] = [],
        [("othr", MatrixFixture.Public)] = ["pull", "tags", "referrers"],
        [("othr", MatrixFixture.Private)] = [],
        [("rdr", MatrixFixture.Public)] = ["pull", "tags", "referrers"],
        [("rdr", MatrixFixture.Private)] = ["pull", "tags", "referrers"],
        [("mntr", MatrixFixture.Public)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
        [("mntr", MatrixFixture.Private)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
        [("ownr", MatrixFixture.Public)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
        [("ownr", MatrixFixture.Private)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
        [("boss", MatrixFixture.Public)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
        [("boss", MatrixFixture.Private)] = ["pull", "push", "delete", "tags", "referrers", "mount"],
    };

    public static IEnumerable<object[]> Cells() =>
        from role in Roles from credential in Credentials from repository in Repositories from action in Actions
        select new object[] { role, credential, repository, action };

    /// <summary>The status a cell must answer with.</summary>
    public static HttpStatusCode Expected(string role, string credential, string repository, string action)
    {
        var anonymous = role == "anonymous";
        if (action == "api-visibility")
        {
            if (anonymous) return HttpStatusCode.Unauthorized;
            if (role is "ownr" or "boss") return HttpStatusCode.OK;
            // Someone who cannot even pull the repository is told it does not exist.
            return Allowed[(role, repository)].Contains("pull") ? HttpStatusCode.Forbidden : HttpStatusCode.NotFound;
        }
        if (action == "catalog") return anonymous && credential == "password" ? HttpStatusCode.Unauthorized : HttpStatusCode.OK;
        if (!Allowed[(role, repository)].Contains(action))
        {
            // Anonymous callers and bearer tokens are asked to (re)authenticate; a known user with a password is refused.
            return anonymous || credential == "token" ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden;
        }
        return action switch
        {
            "pull" or "tags" or "referrers" => HttpStatusCode.OK,
            "push" => HttpStatusCode.Accepted,
            "delete" => HttpStatusCode.NotFound, // allowed, and the digest asked for does not exist: nothing is lost
            "mount" => role == "boss" ? HttpStatusCode.Created : HttpStatusCode.Accepted, // only the admin may read vault/src
            _ => throw new ArgumentOutOfRangeException(nameof(action)),
        };
    }

    [Fact]
    public void The_Matrix_Has_Every_Cell()
    {
        Assert.Equal(6 * 2 * 2 * 8, Cells().Count());
        Assert.Equal(Cells().Count(), Cells().Select(c => string.Join('|', c)).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Cell_Answers_Exactly_As_Expected(string role, string credential, string repository, string action)
    {
        var expected = Expected(role, credential, repository, action);
        using var http = await ClientAsync(role, credential, repository, action);
        using var request = Request(repository, action);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode,
            $"{role} with {credential}, {action} on {repository}: expected {(int)expected}, got {(int)response.StatusCode} {body}");

        if (action == "catalog" && response.StatusCode == HttpStatusCode.OK)
        {
            var listed = JsonDocument.Parse(body).RootElement.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Equal(Allowed[(role, repository)].Contains("pull"), listed.Contains(repository));
            Assert.Equal(role == "boss", listed.Contains(MatrixFixture.Vault));
        }
        if (!action.StartsWith("api", StringComparison.Ordinal) && response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenge = response.Headers.WwwAuthenticate.ToString();
            Assert.StartsWith("Bearer realm=\"" + fixture.Http.Server.BaseUrl + "/auth/token\",service=\"wharf\"", challenge, StringComparison.Ordinal);
            if (credential == "token" && !(role == "anonymous" && action == "catalog")) Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
        }
        if (response.StatusCode == HttpStatusCode.Forbidden && !action.StartsWith("api", StringComparison.Ordinal))
        {
            Assert.Contains("\"DENIED\"", body, StringComparison.Ordinal);
        }
    }

    private async Task<HttpClient> ClientAsync(string role, string credential, string repository, string action)
    {
        var user = role == "anonymous" ? null : role;
        if (credential == "password") return user is null ? fixture.Http.Anonymous() : fixture.Http.Basic(user);
        if (action.StartsWith("api", StringComparison.Ordinal)) return user is null ? fixture.Http.Anonymous() : fixture.Http.Bearer(fixture.AccessTokens[user]);
        string[] scopes = action switch
        {
            "pull" or "tags" or "referrers" => [$"repository:{repository}:pull"],
            "push" => [$"repository:{repository}:pull,push"],
            "delete" => [$"repository:{repository}:delete"],
            "mount" => [$"repository:{repository}:pull,push", $"repository:{MatrixFixture.Vault}:pull"],
            "catalog" => ["registry:catalog:*"],
            _ => throw new ArgumentOutOfRangeException(nameof(action)),
        };
        return fixture.Http.Bearer(await fixture.Http.GetTokenAsync(user, scopes));
    }

    private HttpRequestMessage Request(string repository, string action) => action switch
    {
        "pull" => new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/v1"),
        "push" => new HttpRequestMessage(HttpMethod.Post, $"v2/{repository}/blobs/uploads/"),
        "delete" => new HttpRequestMessage(HttpMethod.Delete, $"v2/{repository}/manifests/sha256:{new string('0', 64)}"),
        "mount" => new HttpRequestMessage(HttpMethod.Post, $"v2/{repository}/blobs/uploads/?mount={fixture.VaultLayer}&from={MatrixFixture.Vault}"),
        "tags" => new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/tags/list"),
        "referrers" => new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/referrers/{fixture.ManifestDigests[repository]}"),
        "catalog" => new HttpRequestMessage(HttpMethod.Get, "v2/_catalog"),
        "api-visibility" => new HttpRequestMessage(HttpMethod.Patch, $"api/v1/{repository.Replace("team/", "repositories/team/", StringComparison.Ordinal)}")
        {
            Content = JsonContent.Create(new { visibility = repository == MatrixFixture.Public ? "public" : "private" }),
        },
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };
}
