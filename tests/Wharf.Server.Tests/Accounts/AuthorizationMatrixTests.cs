using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Access;
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

    /// <summary>Credentials of <c>ownr</c> and <c>boss</c> for the credential matrix, by kind (see <see cref="CredentialMatrixTests"/>).</summary>
    public Dictionary<(string Subject, string Kind), string> Secrets { get; } = [];

    public async Task InitializeAsync()
    {
        // No build workers: builds the matrix submits stay queued.
        var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Builds:Workers=0");
        Http = new AccountsHttp(server);
        foreach (var user in new[] { "boss", "ownr", "mntr", "rdr", "othr", "victim" }) await Http.SignUpAsync(user);
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

        var internalCredentials = server.Services.GetRequiredService<IInternalCredentials>();
        foreach (var subject in CredentialMatrixTests.Subjects)
        {
            foreach (var scope in new[] { "pull", "push", "delete", "admin" }) Secrets[(subject, "pat:" + scope)] = await Http.CreateAccessTokenAsync(subject, scope);
            Secrets[(subject, "session")] = await Http.GetRefreshTokenAsync(subject, AccountsHttp.Password);
            Secrets[(subject, "session:pat-pull")] = await Http.GetRefreshTokenAsync(subject, Secrets[(subject, "pat:pull")]);
            Secrets[(subject, "jwt:pull")] = await Http.GetTokenAsync(subject, $"repository:{Private}:pull");
            Secrets[(subject, "jwt:push")] = await Http.GetTokenAsync(subject, $"repository:{Private}:pull,push");
            Secrets[(subject, "jwt:delete")] = await Http.GetTokenAsync(subject, $"repository:{Private}:delete");
            Secrets[(subject, "jwt:catalog")] = await Http.GetTokenAsync(subject, "registry:catalog:*");
            Secrets[(subject, "cookie")] = await Http.SignInWithFormAsync(subject);
            Secrets[(subject, "internal")] = (await internalCredentials.IssueAsync(subject, Private, RegistryActions.Pull | RegistryActions.Push, TimeSpan.FromHours(1), CancellationToken.None))!.Password;
        }
        // One repository per cell that deletes one, so that each cell finds its own.
        using var ownr = Http.Basic("ownr");
        foreach (var cell in CredentialMatrixTests.Cells().Where(c => (string)c[2] == "repos.delete"))
        {
            using var created = await ownr.PostAsJsonAsync("api/v1/repositories", new { @namespace = "team", name = CredentialMatrixTests.Doomed((string)cell[0], (string)cell[1]) });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
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

/// <summary>
/// The credential half of the matrix: every kind of credential × every <c>/api/v1</c> route (and the earlier build
/// service's) and the <c>/v2</c> actions, for <c>ownr</c> (owner of <c>team</c>, so that permissions allow everything on
/// <c>team/priv</c> and only the credential limits) and for the administrator <c>boss</c>. Kinds: no credential; the
/// password; personal access tokens with each scope; registry tokens from <c>/auth/token</c> with each access; sessions
/// (refresh tokens, as <c>docker login</c> stores them) made with the password and with a pull-only token; a build's
/// internal credential; the web UI's sign-in cookie.
/// <see cref="Every_Route_Has_Cells"/> fails for a route added without cells here: add an action to <see cref="Actions"/>.
/// </summary>
public sealed class CredentialMatrixTests(MatrixFixture fixture) : IClassFixture<MatrixFixture>
{
    public static readonly string[] Subjects = ["ownr", "boss"];

    public static readonly string[] Kinds =
        ["anonymous", "password", "pat:pull", "pat:push", "pat:delete", "pat:admin", "jwt:pull", "jwt:push", "jwt:delete", "jwt:catalog", "session", "session:pat-pull", "internal", "cookie"];

    private const string Priv = MatrixFixture.Private;
    private const string Missing = "00000000-0000-0000-0000-000000000001";
    private const HttpStatusCode Ok = HttpStatusCode.OK;
    private const HttpStatusCode Created = HttpStatusCode.Created;
    private const HttpStatusCode Accepted = HttpStatusCode.Accepted;
    private const HttpStatusCode NoContent = HttpStatusCode.NoContent;
    private const HttpStatusCode BadRequest = HttpStatusCode.BadRequest;
    private const HttpStatusCode Unauthorized = HttpStatusCode.Unauthorized;
    private const HttpStatusCode Forbidden = HttpStatusCode.Forbidden;
    private const HttpStatusCode NotFound = HttpStatusCode.NotFound;

    /// <summary>What a kind of credential is: how it is presented, and what it may do at most.</summary>
    public sealed record Kind(string Name)
    {
        public bool Anonymous => Name == "anonymous";

        /// <summary>A registry token or an internal credential: accepted on the registry's surfaces only.</summary>
        public bool RegistryOnly => Name.StartsWith("jwt:", StringComparison.Ordinal) || Name == "internal";

        public bool Session => Name.StartsWith("session", StringComparison.Ordinal);

        /// <summary>The web UI's sign-in cookie: the password's rights, but only on pages and on safe (GET, HEAD) REST requests.</summary>
        public bool Cookie => Name == "cookie";

        /// <summary>The scopes of a credential the REST API accepts.</summary>
        public TokenScopes Scopes => Name switch
        {
            "password" or "session" or "cookie" => Caller.AllScopes,
            "pat:pull" or "session:pat-pull" => TokenScopes.Pull,
            "pat:push" => TokenScopes.Push,
            "pat:delete" => TokenScopes.Delete,
            "pat:admin" => TokenScopes.Admin,
            _ => TokenScopes.None,
        };

        /// <summary>May manage the account (tokens, sessions, organizations, visibility, registry credentials).</summary>
        public bool Manages => Scopes.HasFlag(TokenScopes.Admin);

        /// <summary>Registry actions the credential allows (pushing and deleting imply reading).</summary>
        public bool Pushes => Scopes.HasFlag(TokenScopes.Admin) || Scopes.HasFlag(TokenScopes.Push);

        public bool Deletes => Scopes.HasFlag(TokenScopes.Admin) || Scopes.HasFlag(TokenScopes.Delete);
    }

    /// <summary>A request and the status it must get from a credential the REST API accepts (anonymous callers and registry tokens are decided by <see cref="ExpectedApi"/>).</summary>
    public sealed record ApiAction(string Name, string Route, HttpStatusCode Anonymous, Func<string, Kind, HttpStatusCode> Expected, Func<string, Kind, HttpRequestMessage> Request);

    private static HttpRequestMessage Json(HttpMethod method, string path, object body) => new(method, path) { Content = JsonContent.Create(body) };

    private static HttpStatusCode If(bool allowed, HttpStatusCode yes) => allowed ? yes : Forbidden;

    private static bool Administrates(string subject, Kind kind) => subject == "boss" && kind.Manages;

    private static string Id(string subject, string kind, string action) =>
        "c" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{subject}|{kind}|{action}")))[..10];

    private static string Id(string subject, Kind kind, string action) => Id(subject, kind.Name, action);

    public static string Doomed(string subject, string kind) => "doomed-" + Id(subject, kind, "repos.delete");

    private static MultipartFormDataContent BuildForm(params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes("FROM scratch\nLABEL matrix=1\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        foreach (var (name, value) in fields)
        {
            if (value == "@dockerfile") form.Add(file, name, "Dockerfile");
            else form.Add(new StringContent(value), name);
        }
        return form;
    }

    /// <summary>Every <c>/api/v1</c> route, the earlier build service's routes, and the status each credential must get.</summary>
    public static readonly ApiAction[] Actions =
    [
        new("user.get", "GET /api/v1/user", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/user")),
        new("user.password", "PUT /api/v1/user/password", Unauthorized, (_, k) => If(k.Manages, BadRequest),
            (_, _) => Json(HttpMethod.Put, "api/v1/user/password", new { current_password = "not-the-password", new_password = "x" })),
        new("users.signup", "POST /api/v1/users", Created, (_, _) => Created,
            (s, k) => Json(HttpMethod.Post, "api/v1/users", new { username = Id(s, k, "signup"), password = AccountsHttp.Password })),
        new("tokens.create", "POST /api/v1/tokens", Unauthorized, (_, k) => If(k.Manages, Created),
            (s, k) => Json(HttpMethod.Post, "api/v1/tokens", new { name = Id(s, k, "token"), scopes = new[] { "pull" } })),
        new("tokens.list", "GET /api/v1/tokens", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/tokens")),
        new("tokens.revoke", "DELETE /api/v1/tokens/{id}", Unauthorized, (_, k) => If(k.Manages, NotFound), (_, _) => new(HttpMethod.Delete, "api/v1/tokens/999999")),
        new("sessions.list", "GET /api/v1/sessions", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/sessions")),
        new("sessions.revoke", "DELETE /api/v1/sessions/{id}", Unauthorized, (_, k) => If(k.Manages, NotFound), (_, _) => new(HttpMethod.Delete, "api/v1/sessions/999999")),
        new("orgs.create", "POST /api/v1/orgs", Unauthorized, (_, k) => If(k.Manages, Created),
            (s, k) => Json(HttpMethod.Post, "api/v1/orgs", new { name = Id(s, k, "org") })),
        new("orgs.get", "GET /api/v1/orgs/{org}", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/orgs/team")),
        new("orgs.list", "GET /api/v1/orgs", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/orgs")),
        new("orgs.members", "GET /api/v1/orgs/{org}/members", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/orgs/team/members")),
        new("orgs.member.set", "PUT /api/v1/orgs/{org}/members/{user}", Unauthorized, (_, k) => If(k.Manages, Ok),
            (_, _) => Json(HttpMethod.Put, "api/v1/orgs/team/members/rdr", new { role = "reader" })),
        new("orgs.member.remove", "DELETE /api/v1/orgs/{org}/members/{user}", Unauthorized, (_, k) => If(k.Manages, NotFound),
            (_, _) => new(HttpMethod.Delete, "api/v1/orgs/team/members/victim")),
        new("repos.create", "POST /api/v1/repositories", Unauthorized, (_, k) => If(k.Pushes, Created),
            (s, k) => Json(HttpMethod.Post, "api/v1/repositories", new { @namespace = "team", name = Id(s, k, "repo") })),
        new("repos.list", "GET /api/v1/repositories", Ok, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/repositories?namespace=team&limit=500")),
        new("repos.get", "GET /api/v1/repositories/{**path}", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, $"api/v1/repositories/{Priv}")),
        new("repos.update", "PATCH /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Pushes, Ok),
            (_, _) => Json(HttpMethod.Patch, $"api/v1/repositories/{Priv}", new { description = "matrix" })),
        new("repos.visibility", "PATCH /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Pushes && k.Manages, Ok),
            (_, _) => Json(HttpMethod.Patch, $"api/v1/repositories/{Priv}", new { visibility = "private" })),
        new("repos.delete", "DELETE /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Deletes, NoContent),
            (s, k) => new(HttpMethod.Delete, $"api/v1/repositories/team/{Doomed(s, k.Name)}")),
        new("tags.list", "GET /api/v1/repositories/{**path}", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, $"api/v1/repositories/{Priv}/tags")),
        new("tags.delete", "DELETE /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Deletes, NotFound),
            (_, _) => new(HttpMethod.Delete, $"api/v1/repositories/{Priv}/tags/not-there")),
        new("openapi", "GET /api/v1/openapi.json", Ok, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/openapi.json")),
        new("search", "GET /api/v1/search", Ok, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/search?q=priv")),
        new("audit", "GET /api/v1/audit", Unauthorized, (s, k) => If(Administrates(s, k), Ok), (_, _) => new(HttpMethod.Get, "api/v1/audit?limit=1")),
        new("repos.immutable.get", "GET /api/v1/repositories/{**path}", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, $"api/v1/repositories/{Priv}/immutable-tags")),
        new("repos.immutable.set", "PUT /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Pushes && k.Deletes, Ok),
            (_, _) => Json(HttpMethod.Put, $"api/v1/repositories/{Priv}/immutable-tags", new { patterns = Array.Empty<string>() })),
        new("repos.retention.get", "GET /api/v1/repositories/{**path}", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, $"api/v1/repositories/{Priv}/retention")),
        new("repos.retention.set", "PUT /api/v1/repositories/{**path}", Unauthorized, (_, k) => If(k.Pushes && k.Deletes, Ok),
            (_, _) => Json(HttpMethod.Put, $"api/v1/repositories/{Priv}/retention", new { })),
        new("ns.quota.set", "PUT /api/v1/namespaces/{namespace}/quota", Unauthorized, (s, k) => If(Administrates(s, k), Ok),
            (_, _) => Json(HttpMethod.Put, "api/v1/namespaces/team/quota", new { bytes = (long?)null })),
        new("ns.quota.get", "GET /api/v1/namespaces/{namespace}/quota", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/namespaces/team/quota")),
        new("ns.usage", "GET /api/v1/namespaces/{namespace}/usage", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/namespaces/team/usage")),
        new("gc.start", "POST /api/v1/gc", Unauthorized, (s, k) => If(Administrates(s, k), Ok),
            (_, _) => Json(HttpMethod.Post, "api/v1/gc", new { dry_run = true })),
        new("gc.runs", "GET /api/v1/gc/runs", Unauthorized, (s, k) => If(Administrates(s, k), Ok), (_, _) => new(HttpMethod.Get, "api/v1/gc/runs?limit=1")),
        new("users.list", "GET /api/v1/users", Unauthorized, (s, k) => If(Administrates(s, k), Ok), (_, _) => new(HttpMethod.Get, "api/v1/users")),
        new("users.disable", "PATCH /api/v1/users/{username}", Unauthorized, (s, k) => If(Administrates(s, k), Ok),
            (_, _) => Json(HttpMethod.Patch, "api/v1/users/victim", new { disabled = false })),
        new("users.unlock", "POST /api/v1/users/{username}/unlock", Unauthorized, (s, k) => If(Administrates(s, k), Ok), (_, _) => new(HttpMethod.Post, "api/v1/users/victim/unlock")),
        new("users.delete", "DELETE /api/v1/users/{username}", Unauthorized, (s, k) => If(Administrates(s, k), NotFound), (_, _) => new(HttpMethod.Delete, "api/v1/users/nobody")),
        new("builds.submit", "POST /api/v1/builds", Unauthorized, (_, k) => If(k.Pushes, Created),
            (_, _) => new(HttpMethod.Post, "api/v1/builds") { Content = BuildForm(("dockerfile", "@dockerfile"), ("image", $"{Priv}:matrix")) }),
        new("builds.list", "GET /api/v1/builds", Ok, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/builds")),
        new("builds.get", "GET /api/v1/builds/{id}", NotFound, (_, _) => NotFound, (_, _) => new(HttpMethod.Get, $"api/v1/builds/{Missing}")),
        new("builds.logs", "GET /api/v1/builds/{id}/logs", NotFound, (_, _) => NotFound, (_, _) => new(HttpMethod.Get, $"api/v1/builds/{Missing}/logs")),
        new("builds.retry", "POST /api/v1/builds/{id}/retry", Unauthorized, (_, _) => NotFound, (_, _) => new(HttpMethod.Post, $"api/v1/builds/{Missing}/retry")),
        new("builds.cancel", "POST /api/v1/builds/{id}/cancel", Unauthorized, (_, _) => NotFound, (_, _) => new(HttpMethod.Post, $"api/v1/builds/{Missing}/cancel")),
        new("credentials.create", "POST /api/v1/registry-credentials", Unauthorized, (_, k) => If(k.Manages, Created),
            (s, k) => Json(HttpMethod.Post, "api/v1/registry-credentials", new { host = "127.0.0.1:1", username = Id(s, k, "cred"), secret = "s3cret" })),
        new("credentials.list", "GET /api/v1/registry-credentials", Unauthorized, (_, _) => Ok, (_, _) => new(HttpMethod.Get, "api/v1/registry-credentials")),
        new("credentials.delete", "DELETE /api/v1/registry-credentials/{id}", Unauthorized, (_, k) => If(k.Manages, NotFound),
            (_, _) => new(HttpMethod.Delete, $"api/v1/registry-credentials/{Missing}")),
        // A loopback target is refused (the matrix server allows none), so a caller allowed to add one gets 400, not a webhook.
        new("webhooks.create", "POST /api/v1/webhooks", Unauthorized, (_, k) => If(k.Manages, BadRequest),
            (_, _) => Json(HttpMethod.Post, "api/v1/webhooks", new { url = "http://127.0.0.1:1/hook", secret = "s3cret", events = new[] { "push" }, @namespace = "team" })),
        new("webhooks.list", "GET /api/v1/webhooks", Unauthorized, (_, k) => If(k.Manages, Ok), (_, _) => new(HttpMethod.Get, "api/v1/webhooks")),
        new("webhooks.get", "GET /api/v1/webhooks/{id}", Unauthorized, (_, k) => If(k.Manages, NotFound), (_, _) => new(HttpMethod.Get, $"api/v1/webhooks/{Missing}")),
        new("webhooks.delete", "DELETE /api/v1/webhooks/{id}", Unauthorized, (_, k) => If(k.Manages, NotFound), (_, _) => new(HttpMethod.Delete, $"api/v1/webhooks/{Missing}")),
        new("webhooks.deliveries", "GET /api/v1/webhooks/{id}/deliveries", Unauthorized, (_, k) => If(k.Manages, NotFound),
            (_, _) => new(HttpMethod.Get, $"api/v1/webhooks/{Missing}/deliveries")),
        new("webhooks.redeliver", "POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", Unauthorized, (_, k) => If(k.Manages, NotFound),
            (_, _) => new(HttpMethod.Post, $"api/v1/webhooks/{Missing}/deliveries/{Missing}/redeliver")),
        new("legacy.build-push", "POST /build-push", Unauthorized, (_, k) => If(k.Pushes, Ok),
            (_, _) => new(HttpMethod.Post, "build-push") { Content = BuildForm(("file", "@dockerfile"), ("image_name", "matrix"), ("image_tag", "v1")) }),
        new("legacy.status", "GET /build-push-status", NotFound, (_, _) => NotFound, (_, _) => new(HttpMethod.Get, $"build-push-status?build_id={Missing}")),
        new("legacy.retry", "GET, POST /retry-build", NotFound, (_, _) => NotFound, (_, _) => new(HttpMethod.Post, $"retry-build?build_id={Missing}")),
    ];

    /// <summary>The <c>/v2</c> (and Docker search) actions on <c>team/priv</c>, with the token scope a session is redeemed for.</summary>
    public static readonly (string Name, string Scope)[] RegistryActionsAsked =
    [
        ("v2.pull", $"repository:{Priv}:pull"), ("v2.push", $"repository:{Priv}:pull,push"), ("v2.delete", $"repository:{Priv}:delete"),
        ("v2.tags", $"repository:{Priv}:pull"), ("v2.catalog", "registry:catalog:*"), ("v1.search", "registry:catalog:search"),
    ];

    public static IEnumerable<object[]> Cells()
    {
        foreach (var subject in Subjects)
        {
            foreach (var kind in Kinds)
            {
                if (kind == "anonymous" && subject != Subjects[0]) continue; // nobody is nobody once
                foreach (var action in Actions) yield return [subject, kind, action.Name];
                foreach (var (name, _) in RegistryActionsAsked) yield return [subject, kind, name];
            }
        }
    }

    /// <summary>The status a REST cell must answer with.</summary>
    public static HttpStatusCode ExpectedApi(string subject, Kind kind, ApiAction action) =>
        kind.Anonymous ? action.Anonymous
        : kind.RegistryOnly ? Unauthorized // registry tokens and internal credentials are for the registry only
        : kind.Cookie && !action.Route.StartsWith("GET /api/", StringComparison.Ordinal) ? action.Anonymous // a cookie never writes through the API (no antiforgery there)
        : action.Expected(subject, kind);

    /// <summary>The status a registry cell must answer with, and whether <c>team/priv</c> shows in a listing.</summary>
    public static (HttpStatusCode Status, bool Listed) ExpectedRegistry(Kind kind, string action)
    {
        // What the credential, as presented on /v2, may do on team/priv (the subject may do everything there).
        bool pull, push, delete, catalog, search;
        var refusal = Forbidden; // a known user with Basic credentials is refused; a token holder is asked for a better token
        switch (kind.Name)
        {
            case "anonymous":
            case "cookie": // the registry never looks at the web UI's cookie
                (pull, push, delete, catalog, search) = (false, false, false, false, false);
                refusal = Unauthorized;
                break;
            case "jwt:pull": (pull, push, delete, catalog, search) = (true, false, false, false, false); refusal = Unauthorized; break;
            case "jwt:push": (pull, push, delete, catalog, search) = (true, true, false, false, false); refusal = Unauthorized; break;
            case "jwt:delete": (pull, push, delete, catalog, search) = (false, false, true, false, false); refusal = Unauthorized; break;
            case "jwt:catalog": (pull, push, delete, catalog, search) = (false, false, false, true, true); refusal = Unauthorized; break;
            case "internal": (pull, push, delete, catalog, search) = (true, true, false, false, false); break;
            default:
                // Basic with the password or a token, or a session redeemed for the asked scope: the credential's scopes.
                (pull, push, delete, catalog, search) = (true, kind.Pushes, kind.Deletes, true, true);
                if (kind.Session) refusal = Unauthorized;
                break;
        }
        return action switch
        {
            "v2.pull" or "v2.tags" => (pull ? Ok : refusal, false),
            "v2.push" => (push ? Accepted : refusal, false),
            "v2.delete" => (delete ? NotFound : refusal, false), // allowed, and the digest asked for does not exist
            "v2.catalog" => (catalog ? Ok : refusal, catalog),
            "v1.search" => (Ok, search),
            _ => throw new ArgumentOutOfRangeException(nameof(action)),
        };
    }

    [Fact]
    public void Every_Route_Has_Cells()
    {
        var covered = Actions.Select(a => a.Route).ToHashSet(StringComparer.Ordinal);
        string[] elsewhere = ["GET /healthz", "GET /readyz", "GET /auth/token", "POST /auth/token", "GET /v1/_ping", "GET /v1/search", "* /v2", "* /v2/{**path}"];
        var routes = fixture.Http.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods is { Count: > 0 } methods ? string.Join(", ", methods) : "*") + " "
                + (e.RoutePattern.RawText is { Length: > 1 } raw ? raw.TrimEnd('/') : e.RoutePattern.RawText))
            .ToList();
        // The REST API and the earlier build service's routes; web pages are the web UI's own tests' (they take only the cookie).
        bool Api(string route) => route.Split(' ')[^1] is var path && (path.StartsWith("/api/", StringComparison.Ordinal) || path is "/build-push" or "/build-push-status" or "/retry-build");
        var missing = routes.Where(r => Api(r) && !covered.Contains(r) && !elsewhere.Contains(r)).ToList();
        Assert.True(missing.Count == 0, "Routes without cells in the authorization matrix (add them to CredentialMatrixTests.Actions): " + string.Join("; ", missing));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Cell_Answers_Exactly_As_Expected(string subject, string kindName, string action)
    {
        var kind = new Kind(kindName);
        if (Actions.FirstOrDefault(a => a.Name == action) is { } api)
        {
            var expected = ExpectedApi(subject, kind, api);
            using var http = ApiClient(subject, kind);
            using var request = api.Request(subject, kind);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"{subject} with {kindName}, {action} ({api.Route}): expected {(int)expected}, got {(int)response.StatusCode} {body}");
            if (action is "search" or "repos.list" && response.StatusCode == Ok)
            {
                var listed = JsonDocument.Parse(body).RootElement.GetProperty(action == "search" ? "results" : "repositories").EnumerateArray()
                    .Any(r => r.GetProperty("full_name").GetString() == Priv);
                Assert.True(listed == !kind.Anonymous, $"{subject} with {kindName}, {action}: team/priv listed = {listed}");
            }
            return;
        }
        var scope = RegistryActionsAsked.Single(a => a.Name == action).Scope;
        var (status, shown) = ExpectedRegistry(kind, action);
        using var client = await RegistryClientAsync(subject, kind, scope);
        using var v2 = await client.SendAsync(RegistryRequest(action));
        var text = await v2.Content.ReadAsStringAsync();
        Assert.True(status == v2.StatusCode, $"{subject} with {kindName}, {action}: expected {(int)status}, got {(int)v2.StatusCode} {text}");
        if (action == "v2.catalog" && v2.StatusCode == Ok)
        {
            Assert.Equal(shown, JsonDocument.Parse(text).RootElement.GetProperty("repositories").EnumerateArray().Any(r => r.GetString() == Priv));
        }
        if (action == "v1.search")
        {
            Assert.Equal(shown, JsonDocument.Parse(text).RootElement.GetProperty("results").EnumerateArray().Any(r => r.GetProperty("name").GetString() == Priv));
        }
        if (v2.StatusCode == Unauthorized && action.StartsWith("v2", StringComparison.Ordinal))
        {
            Assert.StartsWith("Bearer realm=", v2.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>How a client presents a credential of this kind to the REST API.</summary>
    private HttpClient ApiClient(string subject, Kind kind) => kind.Name switch
    {
        "anonymous" => fixture.Http.Anonymous(),
        "password" => fixture.Http.Basic(subject),
        "internal" => fixture.Http.Basic(subject, fixture.Secrets[(subject, kind.Name)]),
        "cookie" => fixture.Http.WithCookie(fixture.Secrets[(subject, kind.Name)]),
        // Tokens and sessions as the REST API's bearer, registry tokens too (refused there).
        _ => fixture.Http.Bearer(fixture.Secrets[(subject, kind.Name)]),
    };

    /// <summary>How a client presents a credential of this kind to the registry: Basic, a registry token, or the token a session is redeemed for.</summary>
    private async Task<HttpClient> RegistryClientAsync(string subject, Kind kind, string scope)
    {
        switch (kind.Name)
        {
            case "anonymous": return fixture.Http.Anonymous();
            case "cookie": return fixture.Http.WithCookie(fixture.Secrets[(subject, kind.Name)]);
            case "password": return fixture.Http.Basic(subject);
            case "internal":
            case "pat:pull" or "pat:push" or "pat:delete" or "pat:admin":
                return fixture.Http.Basic(subject, fixture.Secrets[(subject, kind.Name)]);
            case "session" or "session:pat-pull":
                using (var redeemed = await fixture.Http.RedeemAsync(fixture.Secrets[(subject, kind.Name)], scope))
                {
                    Assert.Equal(Ok, redeemed.StatusCode);
                    var token = JsonDocument.Parse(await redeemed.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
                    return fixture.Http.Bearer(token);
                }
            default: return fixture.Http.Bearer(fixture.Secrets[(subject, kind.Name)]);
        }
    }

    private static HttpRequestMessage RegistryRequest(string action) => action switch
    {
        "v2.pull" => new(HttpMethod.Get, $"v2/{Priv}/manifests/v1"),
        "v2.push" => new(HttpMethod.Post, $"v2/{Priv}/blobs/uploads/"),
        "v2.delete" => new(HttpMethod.Delete, $"v2/{Priv}/manifests/sha256:{new string('0', 64)}"),
        "v2.tags" => new(HttpMethod.Get, $"v2/{Priv}/tags/list"),
        "v2.catalog" => new(HttpMethod.Get, "v2/_catalog?n=1000"),
        "v1.search" => new(HttpMethod.Get, "v1/search?q=priv"),
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };
}
