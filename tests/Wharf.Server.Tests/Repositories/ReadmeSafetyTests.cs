using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Repositories;
using Wharf.Server.Tests.Api;
using Wharf.Server.Tests.Registry;

namespace Wharf.Server.Tests.Repositories;

/// <summary>A stored README can't break a page: one nested too deeply is refused when written, and any stored one renders.</summary>
public sealed class ReadmeSafetyTests : RegistryTestBase
{
    public static TheoryData<string> DeepReadmes => new()
    {
        new string('>', 20_000) + " deep",
        string.Concat(Enumerable.Repeat("> ", 20_000)) + "deep",
        new string('[', 20_000) + "x" + new string(']', 20_000),
        string.Concat(Enumerable.Repeat("*a ", 20_000)),
    };

    [Theory]
    [MemberData(nameof(DeepReadmes))]
    public async Task A_readme_nested_20000_levels_deep_is_refused_and_the_repository_keeps_answering(string readme)
    {
        using (var created = await Http.PostAsync("api/v1/repositories", RepositoriesApiTests.Json("""{"namespace":"alice","name":"app","readme":"# fine"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using (var patched = await Http.PatchAsync("api/v1/repositories/alice/app", RepositoriesApiTests.Json(JsonSerializer.Serialize(new { readme }))))
        {
            var problem = await ApiErrorPipelineTests.AssertProblemAsync(patched, HttpStatusCode.BadRequest);
            Assert.Contains("nests", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        var got = await RepositoriesApiTests.OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/app"));
        Assert.Equal("# fine", got.GetProperty("readme").GetString());
    }

    [Fact]
    public async Task A_deep_readme_stored_before_the_check_is_shown_as_plain_text_not_a_500()
    {
        using (var created = await Http.PostAsync("api/v1/repositories", RepositoriesApiTests.Json("""{"namespace":"alice","name":"old"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        // Written straight into the store, as an earlier version of Wharf let it be.
        var deep = new string('>', 20_000) + " <script>alert(1)</script>";
        Assert.True(await Server.Services.GetRequiredService<IRepositoryStore>().UpdateAsync("alice/old", new RepositoryUpdate(null, deep, null), null, CancellationToken.None));

        for (var i = 0; i < 2; i++)
        {
            var got = await RepositoriesApiTests.OkJsonAsync(await Http.GetAsync("api/v1/repositories/alice/old"));
            var html = got.GetProperty("readme_html").GetString()!;
            Assert.StartsWith("<pre>", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Ordinary_nesting_still_renders()
    {
        var readme = "# Title\n\n> quote\n> > inner\n\n- a\n  - b\n    - c\n\n**bold _and [link](https://example.org)_**";
        using var created = await Http.PostAsync("api/v1/repositories", RepositoriesApiTests.Json(JsonSerializer.Serialize(new { @namespace = "alice", name = "ok", readme })));
        var body = await RepositoriesApiTests.OkJsonAsync(created, HttpStatusCode.Created);
        var html = body.GetProperty("readme_html").GetString()!;
        Assert.Contains("<blockquote>", html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.org\"", html, StringComparison.Ordinal);
    }
}
