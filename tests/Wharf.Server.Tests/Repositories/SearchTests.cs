using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;
using static Wharf.Server.Tests.Repositories.RepositoriesApiTests;

namespace Wharf.Server.Tests.Repositories;

/// <summary>Ranking of <c>/api/v1/search</c> over a fixed set of repositories, filters, paging, bad input and Docker's v1 format.</summary>
public sealed class SearchTests : RegistryTestBase
{
    private async Task CreateAsync(string ns, string name, string? description = null, string visibility = "public")
    {
        using var response = await Http.PostAsync("api/v1/repositories", Json(JsonSerializer.Serialize(new { @namespace = ns, name, description, visibility })));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task SeedAsync()
    {
        await CreateAsync("acme", "redis", "In-memory key value store");
        await CreateAsync("acme", "redis-exporter", "Prometheus metrics for redis");
        await CreateAsync("bob", "cache", "A cache in front of redis");
        await CreateAsync("redis", "server", "Official build of the server");
        await CreateAsync("acme", "rediscover", "Finds things again");
        await CreateAsync("carol", "postgres", "Relational database");
        await CreateAsync("carol", "nginx-proxy", "Reverse proxy with automatic TLS");
        await CreateAsync("dave", "proxy", "HTTP proxy");
    }

    private async Task<List<string>> SearchAsync(string query)
    {
        var page = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=" + Uri.EscapeDataString(query)));
        return page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()!).ToList();
    }

    [Theory]
    // Exact name first; then names (or full names: the namespace) starting with the query, whole-word matches before
    // mere prefixes (bm25 counts a whole word twice); then matches elsewhere (description).
    [InlineData("redis", new[] { "acme/redis", "acme/redis-exporter", "redis/server", "acme/rediscover", "bob/cache" })]
    [InlineData("proxy", new[] { "dave/proxy", "carol/nginx-proxy" })]
    [InlineData("nginx", new[] { "carol/nginx-proxy" })]
    [InlineData("redis exporter", new[] { "acme/redis-exporter" })]
    // bm25 prefers shorter rows: postgres's row has fewer words than nginx-proxy's
    [InlineData("carol", new[] { "carol/postgres", "carol/nginx-proxy" })]
    [InlineData("relational", new[] { "carol/postgres" })]
    [InlineData("post", new[] { "carol/postgres" })]
    [InlineData("REDIS-Exporter", new[] { "acme/redis-exporter" })]
    [InlineData("nothing-like-this", new string[0])]
    public async Task Queries_Return_Repositories_In_The_Expected_Order(string query, string[] expected)
    {
        await SeedAsync();
        Assert.Equal(expected, await SearchAsync(query));
    }

    [Fact]
    public async Task Filters_By_Namespace_And_Visibility()
    {
        await SeedAsync();
        await CreateAsync("acme", "redis-private", "internal", "private");
        var page = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=redis&namespace=acme&visibility=private"));
        Assert.Equal(["acme/redis-private"], page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()));
        var acme = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=redis&namespace=acme"));
        Assert.All(acme.GetProperty("results").EnumerateArray(), r => Assert.Equal("acme", r.GetProperty("namespace").GetString()));
        Assert.Equal(4, acme.GetProperty("results").GetArrayLength());
    }

    [Fact]
    public async Task Pages_Follow_The_Cursor_Without_Repeats()
    {
        await SeedAsync();
        var all = await SearchAsync("redis");
        var paged = new List<string>();
        string? cursor = null;
        do
        {
            var page = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=redis&limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            paged.AddRange(page.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        } while (cursor is not null);
        Assert.Equal(all, paged);
    }

    [Theory]
    [InlineData("\"")]
    [InlineData("redis\"")]
    [InlineData("redis AND")]
    [InlineData("NEAR(redis")]
    [InlineData("name:redis")]
    [InlineData("-redis")]
    [InlineData("*")]
    [InlineData("red*is^")]
    [InlineData("(((")]
    [InlineData("'; DROP TABLE repositories; --")]
    [InlineData("ünïcödé 数据库")]
    public async Task Query_Syntax_In_User_Input_Never_Fails(string query)
    {
        await SeedAsync();
        using var response = await Http.GetAsync("api/v1/search?q=" + Uri.EscapeDataString(query));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        using var docker = await Http.GetAsync("v1/search?q=" + Uri.EscapeDataString(query));
        Assert.Equal(HttpStatusCode.OK, docker.StatusCode);
    }

    [Theory]
    [InlineData("api/v1/search?q=%20%22%20")]
    [InlineData("api/v1/search?limit=0")]
    [InlineData("api/v1/search?cursor=bm9wZQ")]
    [InlineData("api/v1/search?cursor=YjoxOmJhZCBuYW1l")]
    [InlineData("api/v1/search?q=redis&limit=-1")]
    [InlineData("api/v1/search?q=redis&limit=x")]
    [InlineData("api/v1/search?q=redis&visibility=hidden")]
    [InlineData("api/v1/search?q=redis&cursor=bm9wZQ")]
    [InlineData("v1/search?q=redis&n=0")]
    [InlineData("v1/search?q=redis&page=0")]
    [InlineData("v1/search?q=redis&page=x")]
    public async Task Bad_Search_Parameters_Are_400_Problems(string url)
    {
        await AssertProblemAsync(await Http.GetAsync(url), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Docker_V1_Search_Has_Docker_Hubs_Format_And_Pages()
    {
        await SeedAsync();
        var body = await OkJsonAsync(await Http.GetAsync("v1/search?q=redis&n=2&page=2"));
        Assert.Equal("redis", body.GetProperty("query").GetString());
        Assert.Equal(5, body.GetProperty("num_results").GetInt32());
        Assert.Equal(3, body.GetProperty("num_pages").GetInt32());
        Assert.Equal(2, body.GetProperty("page").GetInt32());
        Assert.Equal(2, body.GetProperty("page_size").GetInt32());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["redis/server", "acme/rediscover"], results.Select(r => r.GetProperty("name").GetString()));
        Assert.Equal("Official build of the server", results[0].GetProperty("description").GetString());
        Assert.Equal(0, results[0].GetProperty("star_count").GetInt32());
        Assert.False(results[0].GetProperty("is_official").GetBoolean());
        Assert.False(results[0].GetProperty("is_automated").GetBoolean());

        using var ping = await Http.GetAsync("v1/_ping");
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.Equal("true", RegistryClient.Header(ping, "X-Docker-Registry-Standalone"));
    }
}

/// <summary>
/// Private repositories never show to others: search, the v1 search, listings, the catalog and reads. A real server in
/// accounts mode (the default of <c>wharf serve</c>), users signed up through the API, Basic credentials on each request.
/// </summary>
public sealed class SearchVisibilityTests : IAsyncLifetime
{
    private const string Password = "correct-horse-battery";
    private WharfTestServer? _server;
    private HttpClient? _http;

    private HttpClient Http => _http!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        _http = _server.CreateClient();
        foreach (var user in new[] { "boss", "alice", "bob" }) // the first user is the administrator
        {
            using var signUp = await Http.PostAsync("api/v1/users", Json(JsonSerializer.Serialize(new { username = user, password = Password })));
            Assert.True(signUp.IsSuccessStatusCode, $"sign-up of {user}: {(int)signUp.StatusCode} {await signUp.Content.ReadAsStringAsync()}");
        }
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string? user, string? json = null)
    {
        var request = new HttpRequestMessage(method, url);
        if (user is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{Password}")));
        }
        if (json is not null) request.Content = Json(json);
        return Http.SendAsync(request);
    }

    private async Task<List<string>> NamesAsync(string url, string? user, string array, string property)
    {
        var body = await OkJsonAsync(await SendAsync(HttpMethod.Get, url, user));
        return body.GetProperty(array).EnumerateArray().Select(r => property.Length == 0 ? r.GetString()! : r.GetProperty(property).GetString()!).ToList();
    }

    private async Task SeedAsync()
    {
        foreach (var (user, name, visibility) in new[] { ("alice", "secret-widget", "private"), ("alice", "open-widget", "public"), ("bob", "bob-widget", "private") })
        {
            using var created = await SendAsync(HttpMethod.Post, "api/v1/repositories", user,
                JsonSerializer.Serialize(new { @namespace = user, name, visibility, description = "widget" }));
            Assert.True(created.StatusCode == HttpStatusCode.Created, $"{(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Private_Repositories_Never_Appear_In_Search_For_Others()
    {
        await SeedAsync();
        Assert.Equal(["alice/open-widget", "alice/secret-widget"], (await NamesAsync("api/v1/search?q=widget", "alice", "results", "full_name")).Order());
        Assert.Equal(["alice/open-widget", "bob/bob-widget"], (await NamesAsync("api/v1/search?q=widget", "bob", "results", "full_name")).Order());
        Assert.Equal(["alice/open-widget"], await NamesAsync("api/v1/search?q=widget", null, "results", "full_name"));
        Assert.Equal(["alice/open-widget", "alice/secret-widget", "bob/bob-widget"], (await NamesAsync("api/v1/search?q=widget", "boss", "results", "full_name")).Order());
        Assert.Empty(await NamesAsync("api/v1/search?q=secret", "bob", "results", "full_name"));
        Assert.Empty(await NamesAsync("api/v1/search?q=widget&visibility=private&namespace=alice", "bob", "results", "full_name"));
        Assert.Equal(["alice/open-widget"], await NamesAsync("v1/search?q=widget", null, "results", "name"));
        // Browsing (no q) shows the same: nothing private of others, in the same order for everyone (pulls, then name).
        Assert.Equal(["alice/open-widget", "bob/bob-widget"], await NamesAsync("api/v1/search", "bob", "results", "full_name"));
        Assert.Equal(["alice/open-widget", "alice/secret-widget"], await NamesAsync("api/v1/search", "alice", "results", "full_name"));
        Assert.Equal(["alice/open-widget"], await NamesAsync("api/v1/search", null, "results", "full_name"));
        Assert.Equal(["alice/open-widget", "alice/secret-widget", "bob/bob-widget"], await NamesAsync("api/v1/search", "boss", "results", "full_name"));
        var count = await OkJsonAsync(await SendAsync(HttpMethod.Get, "v1/search?q=widget", null));
        Assert.Equal(1, count.GetProperty("num_results").GetInt32());
    }

    [Fact]
    public async Task Private_Repositories_Never_Appear_In_Listings_Or_The_Catalog_For_Others()
    {
        await SeedAsync();
        Assert.Equal(["alice/open-widget", "bob/bob-widget"], await NamesAsync("api/v1/repositories", "bob", "repositories", "full_name"));
        Assert.Equal(["alice/open-widget", "bob/bob-widget"], await NamesAsync("v2/_catalog", "bob", "repositories", ""));
        Assert.Equal(["alice/open-widget"], await NamesAsync("api/v1/repositories", null, "repositories", "full_name"));
    }

    [Fact]
    public async Task Others_Get_404_For_A_Private_Repository_And_May_Not_Change_One()
    {
        await SeedAsync();
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "api/v1/repositories/alice/secret-widget", "bob"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "api/v1/repositories/alice/secret-widget/tags", "bob"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "api/v1/repositories/alice/secret-widget", null), HttpStatusCode.Unauthorized);
        await AssertProblemAsync(await SendAsync(HttpMethod.Patch, "api/v1/repositories/alice/open-widget", "bob", """{"description":"mine"}"""), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await SendAsync(HttpMethod.Delete, "api/v1/repositories/alice/open-widget", "bob"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await SendAsync(HttpMethod.Delete, "api/v1/repositories/alice/open-widget", null), HttpStatusCode.Unauthorized);
        await AssertProblemAsync(await SendAsync(HttpMethod.Post, "api/v1/repositories", "bob", """{"namespace":"alice","name":"planted"}"""), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await SendAsync(HttpMethod.Post, "api/v1/repositories", null, """{"namespace":"alice","name":"planted"}"""), HttpStatusCode.Unauthorized);
        var mine = await OkJsonAsync(await SendAsync(HttpMethod.Get, "api/v1/repositories/alice/secret-widget", "alice"));
        Assert.Equal("private", mine.GetProperty("visibility").GetString());
    }

    [Fact]
    public async Task Making_A_Repository_Public_Shows_It_To_Others()
    {
        await SeedAsync();
        using var patched = await SendAsync(HttpMethod.Patch, "api/v1/repositories/alice/secret-widget", "alice", """{"visibility":"public","description":"now for all"}""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = await OkJsonAsync(patched);
        Assert.Equal("public", body.GetProperty("visibility").GetString());
        Assert.Equal("now for all", body.GetProperty("description").GetString());
        Assert.Contains("alice/secret-widget", await NamesAsync("api/v1/search?q=secret", "bob", "results", "full_name"));
        Assert.Contains("alice/secret-widget", await NamesAsync("api/v1/search?q=secret", null, "results", "full_name"));
    }
}
