using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Core;
using Wharf.Server.Repositories;
using Wharf.Server.Tests.Registry;

namespace Wharf.Server.Tests.Repositories;

/// <summary><c>/api/v1/repositories</c> against a real server: create, read, change, delete, tag details and counters.</summary>
public class RepositoriesApiTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Repositories:CounterFlushInterval=00:00:00.100"];

    internal static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    internal static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Create_Then_Get_Shows_Description_Visibility_And_Readme_Rendered_Without_Script()
    {
        var readme = "# Hello\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) and [home](https://example.org/a) <img src=x onerror=alert(3)>";
        var created = await OkJsonAsync(await Http.PostAsync("api/v1/repositories", Json(JsonSerializer.Serialize(new
        {
            @namespace = "alice", name = "web-app", visibility = "public", description = "A small web app", readme,
        }))), HttpStatusCode.Created);
        Assert.Equal("alice", created.GetProperty("namespace").GetString());
        Assert.Equal("web-app", created.GetProperty("name").GetString());
        Assert.Equal("alice/web-app", created.GetProperty("full_name").GetString());
        Assert.Equal("public", created.GetProperty("visibility").GetString());

        var got = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/web-app"));
        Assert.Equal("A small web app", got.GetProperty("description").GetString());
        Assert.Equal(readme, got.GetProperty("readme").GetString());
        var html = got.GetProperty("readme_html").GetString()!;
        Assert.Contains("<h1", html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.org/a\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, got.GetProperty("push_count").GetInt64());
        Assert.Equal(0, got.GetProperty("tag_count").GetInt64());

        // The repository exists for the registry too: an empty tag list, not NAME_UNKNOWN.
        using var tags = await Http.GetAsync("v2/alice/web-app/tags/list");
        Assert.Equal(HttpStatusCode.OK, tags.StatusCode);
    }

    [Fact]
    public async Task Creating_An_Existing_Repository_Is_A_409_Problem()
    {
        (await Http.PostAsync("api/v1/repositories", Json("""{"namespace":"alice","name":"app"}"""))).EnsureSuccessStatusCode();
        await AssertProblemAsync(await Http.PostAsync("api/v1/repositories", Json("""{"namespace":"alice","name":"app"}""")), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("""{"namespace":"alice","name":"Upper"}""")]
    [InlineData("""{"namespace":"Alice","name":"app"}""")]
    [InlineData("""{"namespace":"alice","name":".."}""")]
    [InlineData("""{"namespace":"alice","name":"a/../b"}""")]
    [InlineData("""{"namespace":"..","name":"app"}""")]
    [InlineData("""{"namespace":"alice","name":"my app"}""")]
    [InlineData("""{"namespace":"alice","name":" app"}""")]
    [InlineData("""{"namespace":"al/ice","name":"app"}""")]
    [InlineData("""{"namespace":"alice","name":""}""")]
    [InlineData("""{"namespace":"alice"}""")]
    [InlineData("""{"namespace":"alice","name":"app","visibility":"secret"}""")]
    [InlineData("""{"namespace":"alice","name":"app","description":5}""")]
    [InlineData("""not json""")]
    [InlineData("""[]""")]
    public async Task Bad_Create_Requests_Are_400_Problems(string body)
    {
        await AssertProblemAsync(await Http.PostAsync("api/v1/repositories", Json(body)), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_Name_Longer_Than_The_Limit_Is_A_400_Problem()
    {
        var body = JsonSerializer.Serialize(new { @namespace = "alice", name = new string('a', 250) });
        await AssertProblemAsync(await Http.PostAsync("api/v1/repositories", Json(body)), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("api/v1/repositories/Alice/App")]
    [InlineData("api/v1/repositories/alice/my%20app")]
    [InlineData("api/v1/repositories/alice/a..b")]
    [InlineData("api/v1/repositories/alice/app/tags?limit=abc")]
    [InlineData("api/v1/repositories/alice/app/tags?limit=0")]
    [InlineData("api/v1/repositories/alice/app/tags?cursor=%%%")]
    public async Task Bad_Names_And_Paging_On_Reads_Are_400_Problems(string url)
    {
        (await Http.PostAsync("api/v1/repositories", Json("""{"namespace":"alice","name":"app"}"""))).EnsureSuccessStatusCode();
        await AssertProblemAsync(await Http.GetAsync(url), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Deleting_A_Tag_Longer_Than_128_Characters_Is_A_400_Problem()
    {
        await Registry.PushImageAsync("alice/app", "v1");
        await AssertProblemAsync(await Http.DeleteAsync("api/v1/repositories/alice/app/tags/" + new string('t', 129)), HttpStatusCode.BadRequest);
        using var put = await Registry.PutManifestAsync("alice/app", new string('t', 129), "{}");
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
    }

    [Fact]
    public async Task Unknown_Repository_Is_A_404_Problem()
    {
        await AssertProblemAsync(await Http.GetAsync("api/v1/repositories/alice/nothing"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.GetAsync("api/v1/repositories/alice/nothing/tags"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await Http.DeleteAsync("api/v1/repositories/alice/nothing"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Patch_Changes_Description_Readme_And_Visibility()
    {
        (await Http.PostAsync("api/v1/repositories", Json("""{"namespace":"alice","name":"app","visibility":"private"}"""))).EnsureSuccessStatusCode();
        var patched = await OkJsonAsync(await Http.PatchAsync("api/v1/repositories/alice/app",
            Json("""{"description":"now described","readme":"*hi*","visibility":"public"}""")));
        Assert.Equal("now described", patched.GetProperty("description").GetString());
        Assert.Equal("public", patched.GetProperty("visibility").GetString());
        Assert.Contains("<em>hi</em>", patched.GetProperty("readme_html").GetString(), StringComparison.Ordinal);
        Assert.NotEqual(JsonValueKind.Null, patched.GetProperty("updated_at").ValueKind);

        await AssertProblemAsync(await Http.PatchAsync("api/v1/repositories/alice/app", Json("""{"visibility":"everyone"}""")), HttpStatusCode.BadRequest);
        var unchanged = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app"));
        Assert.Equal("public", unchanged.GetProperty("visibility").GetString());
    }

    [Fact]
    public async Task Tags_Show_Digest_Size_Media_Type_Platform_And_Push_Time()
    {
        var configBytes = RegistryClient.Bytes("""{"architecture":"arm64","os":"linux","variant":"v8","config":{"Labels":{"org.opencontainers.image.title":"Frobnicator"}}}""");
        var config = await Registry.PushBlobAsync("alice/app", configBytes);
        var layer1 = await Registry.PushBlobAsync("alice/app", new byte[1000]);
        var layer2 = await Registry.PushBlobAsync("alice/app", new byte[234]);
        var json = RegistryClient.ImageManifest((config, configBytes.Length), [(layer1, 1000), (layer2, 234)]);
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var digest = await Registry.PushManifestAsync("alice/app", "v1", json);

        var page = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app/tags"));
        var tag = Assert.Single(page.GetProperty("tags").EnumerateArray());
        Assert.Equal("v1", tag.GetProperty("name").GetString());
        Assert.Equal(digest.ToString(), tag.GetProperty("digest").GetString());
        Assert.Equal(MediaTypes.OciManifest, tag.GetProperty("media_type").GetString());
        Assert.Equal(1234, tag.GetProperty("size").GetInt64());
        Assert.Equal(["linux/arm64/v8"], tag.GetProperty("platforms").EnumerateArray().Select(p => p.GetString()));
        Assert.True(tag.GetProperty("pushed_at").GetDateTimeOffset() >= before);
        Assert.Equal(JsonValueKind.Null, tag.GetProperty("last_pulled_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);

        var repo = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app"));
        Assert.Equal(1, repo.GetProperty("push_count").GetInt64());
        Assert.Equal(1, repo.GetProperty("tag_count").GetInt64());
    }

    [Fact]
    public async Task An_Index_Lists_The_Platforms_Of_Its_Children_And_Their_Total_Size()
    {
        var amd = await Registry.PushImageAsync("alice/multi", "amd", "a");
        var arm = await Registry.PushImageAsync("alice/multi", "arm", "bb");
        var index = RegistryClient.Index([(amd.Digest, Encoding.UTF8.GetByteCount(amd.Json)), (arm.Digest, Encoding.UTF8.GetByteCount(arm.Json))]);
        var digest = await Registry.PushManifestAsync("alice/multi", "latest", index, MediaTypes.OciIndex);

        var page = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/multi/tags"));
        var latest = page.GetProperty("tags").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "latest");
        Assert.Equal(digest.ToString(), latest.GetProperty("digest").GetString());
        Assert.Equal(MediaTypes.OciIndex, latest.GetProperty("media_type").GetString());
        Assert.Equal(["linux/arch0", "linux/arch1"], latest.GetProperty("platforms").EnumerateArray().Select(p => p.GetString()));
        // PushImageAsync's layers are "layer of " + salt.
        Assert.Equal("layer of a".Length + "layer of bb".Length, latest.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task Tag_Pages_Follow_The_Cursor_In_Name_Order()
    {
        var image = await Registry.PushImageAsync("alice/app", "t0");
        foreach (var t in new[] { "t3", "t1", "t4", "t2" })
        {
            using var put = await Registry.PutManifestAsync("alice/app", t, image.Json);
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        var names = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app/tags?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            names.AddRange(page.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
            pages++;
        } while (cursor is not null);
        Assert.Equal(["t0", "t1", "t2", "t3", "t4"], names);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task Pulls_Are_Counted_And_Last_Pulled_Times_Recorded_After_A_Flush()
    {
        await Registry.PushImageAsync("alice/app", "v1");
        for (var i = 0; i < 3; i++) (await Http.GetAsync("v2/alice/app/manifests/v1")).EnsureSuccessStatusCode();
        // HEAD is not a pull.
        (await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v2/alice/app/manifests/v1"))).EnsureSuccessStatusCode();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonElement repo;
        do
        {
            await Task.Delay(100);
            repo = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app"));
        } while (repo.GetProperty("pull_count").GetInt64() < 3 && DateTime.UtcNow < deadline);
        Assert.Equal(3, repo.GetProperty("pull_count").GetInt64());
        Assert.NotEqual(JsonValueKind.Null, repo.GetProperty("last_pulled_at").ValueKind);
        var tag = (await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app/tags"))).GetProperty("tags")[0];
        Assert.NotEqual(JsonValueKind.Null, tag.GetProperty("last_pulled_at").ValueKind);
    }

    [Fact]
    public async Task Pull_Counts_Survive_A_Restart()
    {
        await Registry.PushImageAsync("alice/app", "v1");
        (await Http.GetAsync("v2/alice/app/manifests/v1")).EnsureSuccessStatusCode();
        await Server.RestartAsync(); // the shutdown flush writes what the timer has not
        using var http = Server.CreateClient();
        var repo = await OkJsonAsync(await http.GetAsync("api/v1/repositories/alice/app"));
        Assert.Equal(1, repo.GetProperty("pull_count").GetInt64());
    }

    [Fact]
    public async Task Deleting_A_Repository_Removes_Its_Tags_And_Manifests_From_Registry_And_Search()
    {
        var image = await Registry.PushImageAsync("alice/doomed", "v1");
        (await Http.GetAsync("v2/alice/doomed/manifests/v1")).EnsureSuccessStatusCode(); // now cached
        Assert.Single((await OkJsonAsync(await Http.GetAsync("api/v1/search?q=doomed"))).GetProperty("results").EnumerateArray());

        using var deleted = await Http.DeleteAsync("api/v1/repositories/alice/doomed");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        await AssertProblemAsync(await Http.GetAsync("api/v1/repositories/alice/doomed"), HttpStatusCode.NotFound);
        using (var byTag = await Http.GetAsync("v2/alice/doomed/manifests/v1")) Assert.Equal(HttpStatusCode.NotFound, byTag.StatusCode);
        using (var byDigest = await Http.GetAsync($"v2/alice/doomed/manifests/{image.Digest}")) Assert.Equal(HttpStatusCode.NotFound, byDigest.StatusCode);
        using (var tags = await Http.GetAsync("v2/alice/doomed/tags/list")) Assert.Equal(HttpStatusCode.NotFound, tags.StatusCode);
        Assert.Empty((await OkJsonAsync(await Http.GetAsync("api/v1/search?q=doomed"))).GetProperty("results").EnumerateArray());
        var catalog = await OkJsonAsync(await Http.GetAsync("v2/_catalog"));
        Assert.DoesNotContain("alice/doomed", catalog.GetProperty("repositories").EnumerateArray().Select(r => r.GetString()));

        // The name can be pushed to again, from scratch.
        await Registry.PushImageAsync("alice/doomed", "v2", "again");
        var tagsAfter = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/doomed/tags"));
        Assert.Equal(["v2"], tagsAfter.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Deleting_A_Tag_Leaves_The_Others()
    {
        var image = await Registry.PushImageAsync("alice/app", "keep");
        using (var put = await Registry.PutManifestAsync("alice/app", "drop", image.Json)) Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var deleted = await Http.DeleteAsync("api/v1/repositories/alice/app/tags/drop");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var tags = await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app/tags"));
        Assert.Equal(["keep"], tags.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        await AssertProblemAsync(await Http.DeleteAsync("api/v1/repositories/alice/app/tags/drop"), HttpStatusCode.NotFound);
        using var gone = await Http.GetAsync("v2/alice/app/manifests/drop");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Labels_Of_A_Pushed_Image_Are_Searchable()
    {
        var configBytes = RegistryClient.Bytes("""{"architecture":"amd64","os":"linux","config":{"Labels":{"maintainer":"Zanzibar Quokka"}}}""");
        var config = await Registry.PushBlobAsync("alice/labelled", configBytes);
        var layer = await Registry.PushBlobAsync("alice/labelled", new byte[10]);
        await Registry.PushManifestAsync("alice/labelled", "latest", RegistryClient.ImageManifest((config, configBytes.Length), [(layer, 10)]));
        var hits = await OkJsonAsync(await Http.GetAsync("api/v1/search?q=quokka"));
        Assert.Equal(["alice/labelled"], hits.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("full_name").GetString()));
    }

    [Fact]
    public async Task A_Config_That_Is_Not_Json_Does_Not_Fail_The_Push()
    {
        var configBytes = RegistryClient.Bytes("this is not json {");
        var config = await Registry.PushBlobAsync("alice/odd", configBytes);
        var layer = await Registry.PushBlobAsync("alice/odd", new byte[5]);
        await Registry.PushManifestAsync("alice/odd", "v1", RegistryClient.ImageManifest((config, configBytes.Length), [(layer, 5)]));
        var tag = (await OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/odd/tags"))).GetProperty("tags")[0];
        Assert.Equal(5, tag.GetProperty("size").GetInt64());
        Assert.Empty(tag.GetProperty("platforms").EnumerateArray());
    }
}

/// <summary>With <c>Repositories:CreateOnPush=false</c>, a push needs the repository to be created first.</summary>
public sealed class CreateOnPushDisabledTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Repositories:CreateOnPush=false"];

    [Fact]
    public async Task A_Push_To_A_Repository_Not_Created_Is_Refused_Until_It_Is_Created()
    {
        using var start = await Http.PostAsync("v2/alice/app/blobs/uploads/", null);
        await RegistryClient.AssertErrorAsync(start, HttpStatusCode.NotFound, "NAME_UNKNOWN");
        (await Http.PostAsync("api/v1/repositories", RepositoriesApiTests.Json("""{"namespace":"alice","name":"app"}"""))).EnsureSuccessStatusCode();
        await Registry.PushImageAsync("alice/app", "v1");
    }
}

/// <summary>Invalid <c>Wharf:Repositories</c> values stop start-up with a message.</summary>
public sealed class RepositoryOptionsTests
{
    [Fact]
    public async Task An_Invalid_Flush_Interval_Stops_Start_Up()
    {
        var dir = Directory.CreateTempSubdirectory("wharf-test-");
        try
        {
            var e = await Assert.ThrowsAsync<WharfConfigurationException>(() => WharfServer.StartAsync(
                ["--urls", "http://127.0.0.1:0", "--data-dir", dir.FullName, "--Wharf:Repositories:CounterFlushInterval=00:00:00"], CancellationToken.None));
            Assert.Contains(e.Problems, p => p.Contains("CounterFlushInterval", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("[x](javascript:alert(1))", false)]
    [InlineData("[x](JavaScript:alert(1))", false)]
    [InlineData("[x](data:text/html;base64,PHNjcmlwdD4=)", false)]
    [InlineData("[x](vbscript:msgbox)", false)]
    [InlineData("[x](https://example.org)", true)]
    [InlineData("[x](docs/usage.md)", true)]
    [InlineData("[x](mailto:a@example.org)", true)]
    public void Readme_Links_Keep_Only_Safe_Urls(string markdown, bool kept)
    {
        var html = ReadmeRenderer.Render(markdown)!;
        var href = System.Text.RegularExpressions.Regex.Match(html, "href=\"([^\"]*)\"").Groups[1].Value;
        if (kept) Assert.NotEqual("#", href);
        else Assert.Equal("#", href);
    }
}
