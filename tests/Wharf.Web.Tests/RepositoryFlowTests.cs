using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>Repositories in a real browser: create, push with the real docker client, the tag table, READMEs, search, privacy.</summary>
[Collection(WebUiCollection.Name)]
public sealed class RepositoryFlowTests(WebUiFixture fixture)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;

    [Fact]
    public async Task A_repository_created_in_the_form_receives_a_docker_push_and_shows_the_tag_with_platform_and_size()
    {
        var (page, user) = await fixture.SignedInPageAsync("pusher");
        await page.GetByRole(AriaRole.Link, new() { Name = "New repository" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("app");
        await page.GetByLabel("Description").FillAsync("An app pushed by docker");
        await page.GetByLabel("Public").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create repository" }).ClickAsync();
        await page.WaitForURLAsync($"**/r/{user.UserName}/app");
        Assert.Contains($"{user.UserName}/app", await page.Locator("h1").InnerTextAsync());
        Assert.Contains("public", await page.Locator("h1 .badge").InnerTextAsync());
        Assert.Contains("No tags yet", await page.Locator("main").InnerTextAsync());

        // The real docker client: load an image, log in with the password, push.
        await using var work = TempDirectory.Create("push");
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024 });
        var archive = await image.WriteDockerArchiveAsync(work.Combine("image.tar"), "local/app:1.0", _ct);
        var docker = fixture.Docker;
        await docker.DockerCheckedAsync(["load", "--input", archive.Path], _ct);
        var reference = $"{fixture.Host}/{user.UserName}/app:1.0";
        await docker.DockerCheckedAsync(["tag", "local/app:1.0", reference], _ct);
        await docker.DockerCheckedAsync(["login", "--username", user.UserName, "--password-stdin", fixture.Host], _ct, standardInput: user.Password);
        await docker.DockerCheckedAsync(["push", reference], _ct);
        var digest = (await docker.DockerCheckedAsync(["inspect", "--format", "{{index .RepoDigests 0}}", reference], _ct)).StandardOutput.Trim().Split('@')[1];

        await page.GetByRole(AriaRole.Link, new() { Name = "Tags" }).ClickAsync();
        var row = page.Locator("table tbody tr").Filter(new() { HasText = "1.0" });
        Assert.Equal(1, await row.CountAsync());
        var cells = await row.Locator("td").AllInnerTextsAsync();
        Assert.Equal("1.0", cells[0]);
        Assert.StartsWith(digest[..19], cells[1]);
        Assert.Equal($"linux/{TestImages.HostArchitecture}", cells[2]);
        Assert.Matches(@"^1\d\d(\.\d)? KB$", cells[3]); // two 64 KiB layers of random data
        // The copy buttons give name:tag and name@digest.
        Assert.Equal(reference, await row.Locator("button[data-copy]").Nth(0).GetAttributeAsync("data-copy"));
        Assert.Equal($"{fixture.Host}/{user.UserName}/app@{digest}", await row.Locator("button[data-copy]").Nth(1).GetAttributeAsync("data-copy"));

        // The overview's pull command names the tag, never a bare name.
        await page.GetByRole(AriaRole.Link, new() { Name = "Overview" }).ClickAsync();
        Assert.Equal($"docker pull {reference}", await page.Locator("#pull-command").InnerTextAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_multi_platform_tag_expands_to_one_row_per_platform_with_its_own_digest_size_and_layers()
    {
        var user = fixture.NewUser("multi");
        await fixture.SignUpAsync(user, _ct);
        var (amd64, arm64) = await fixture.PushIndexAsync(user, $"{user.UserName}/tool", "2.0", _ct);
        var page = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(page, user);
        await page.GotoAsync($"/r/{user.UserName}/tool/tags?filter=2.0&sort=name");
        var rows = page.Locator("table tbody tr");
        var texts = await rows.AllInnerTextsAsync();
        var index = Array.FindIndex(texts.ToArray(), t => t.StartsWith("2.0\t", StringComparison.Ordinal));
        Assert.True(index >= 0, string.Join("\n", texts));
        Assert.Contains("linux/amd64, linux/arm64", texts[index]);
        var children = page.Locator("table tbody tr.child");
        Assert.Equal(2, await children.CountAsync());
        Assert.Contains("linux/amd64", await children.Nth(0).InnerTextAsync());
        Assert.Contains(amd64[..19], await children.Nth(0).InnerTextAsync());
        Assert.Contains("2 layers", await children.Nth(0).InnerTextAsync());
        Assert.Equal($"{fixture.Host}/{user.UserName}/tool@{arm64}", await children.Nth(1).Locator("button[data-copy]").GetAttributeAsync("data-copy"));
        // The view state stays in the URL and in the form.
        Assert.Equal("2.0", await page.GetByLabel("Tag contains").InputValueAsync());
        Assert.Equal("name", await page.GetByLabel("Sort by").InputValueAsync());

        await children.Nth(1).GetByRole(AriaRole.Link).ClickAsync();
        Assert.Contains("platform=linux%2Farm64", page.Url);
        Assert.Contains(arm64, await page.Locator("main").InnerTextAsync());
        Assert.Equal(2, await page.Locator("section table tbody tr").CountAsync()); // its two layers
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_tag_table_is_newest_first_and_pages_sorts_and_filters_on_the_server_with_the_state_in_the_url()
    {
        var user = fixture.NewUser("pager");
        await fixture.SignUpAsync(user, _ct);
        var repository = $"{user.UserName}/many";
        await fixture.PushImageAsync(user, repository, "v000", _ct);
        using var http = fixture.Http(user);
        using var get = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/v000");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var manifest = await http.SendAsync(get, _ct);
        var bytes = await manifest.Content.ReadAsByteArrayAsync(_ct);
        for (var i = 1; i <= 29; i++)
        {
            using var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
            using var put = await http.PutAsync($"v2/{repository}/manifests/v{i:000}", content, _ct);
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            await Task.Delay(3, _ct); // distinct push times, in order
        }
        var page = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(page, user);
        await page.GotoAsync($"/r/{repository}/tags");
        var first = await page.Locator("table tbody tr td:first-child").AllInnerTextsAsync();
        Assert.Equal(25, first.Count);
        Assert.Equal("v029", first[0]);
        Assert.Equal("v005", first[^1]);
        await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).ClickAsync();
        Assert.Contains("cursor=", page.Url);
        Assert.Equal(["v004", "v003", "v002", "v001", "v000"], await page.Locator("table tbody tr td:first-child").AllInnerTextsAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).CountAsync());

        // Filter and sort through the form: the URL holds both, and a reload shows the same view.
        await page.GotoAsync($"/r/{repository}/tags");
        await page.GetByLabel("Tag contains").FillAsync("v01");
        await page.GetByLabel("Sort by").SelectOptionAsync("name");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        Assert.Contains("filter=v01", page.Url);
        Assert.Contains("sort=name", page.Url);
        var expected = Enumerable.Range(10, 10).Select(i => $"v{i:000}").ToList();
        Assert.Equal(expected, await page.Locator("table tbody tr td:first-child").AllInnerTextsAsync());
        await page.ReloadAsync();
        Assert.Equal(expected, await page.Locator("table tbody tr td:first-child").AllInnerTextsAsync());
        // A cursor from another order is refused plainly, not misread.
        var refused = await page.GotoAsync($"/r/{repository}/tags?sort=oldest&cursor=bm9wZQ");
        Assert.Equal(400, refused!.Status);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_tag_deleted_from_the_tag_table_after_typing_its_name_is_gone_the_others_stay_and_the_delete_is_audited()
    {
        var (page, user) = await fixture.SignedInPageAsync("untagger");
        var repository = $"{user.UserName}/shelf";
        await fixture.CreateRepositoryAsync(user, user.UserName, "shelf", "public", _ct);
        var kept = await fixture.PushImageAsync(user, repository, "keep", _ct);
        await fixture.PushImageAsync(user, repository, "drop", _ct);

        // Someone who may pull but not delete sees no delete form, and a post is refused.
        var (reader, _) = await fixture.SignedInPageAsync("onlooker");
        await reader.GotoAsync($"/r/{repository}/tags");
        Assert.Equal(0, await reader.GetByRole(AriaRole.Link, new() { Name = "Delete tag drop" }).CountAsync());
        await reader.GotoAsync($"/r/{repository}/tags/drop");
        Assert.Equal(0, await reader.GetByRole(AriaRole.Button, new() { Name = "Delete tag drop" }).CountAsync());

        await page.GotoAsync($"/r/{repository}/tags");
        await page.GetByRole(AriaRole.Link, new() { Name = "Delete tag drop" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(page, $"**/r/{repository}/tags/drop#delete-tag");
        await page.GetByLabel("Type").FillAsync("keep");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete tag drop" }).ClickAsync();
        Assert.Contains("exactly", await page.Locator(".flash").InnerTextAsync());
        using (var http = fixture.Http(user))
        using (var still = await http.GetAsync($"v2/{repository}/manifests/drop")) Assert.Equal(HttpStatusCode.OK, still.StatusCode);

        await page.GetByLabel("Type").FillAsync("drop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete tag drop" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(page, $"**/r/{repository}/tags");
        Assert.Contains("Deleted the tag drop", await page.Locator(".flash").InnerTextAsync());
        var tags = await page.Locator("main table tbody td[data-label=Tag]").AllInnerTextsAsync();
        Assert.Equal(["keep"], tags);

        using (var http = fixture.Http(user))
        {
            using (var gone = await http.GetAsync($"v2/{repository}/manifests/drop")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            using (var other = await http.GetAsync($"v2/{repository}/manifests/keep")) Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            using (var byDigest = await http.GetAsync($"v2/{repository}/manifests/{kept.ManifestDigest}")) Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
        }
        // Audited through the event seam, as a delete through the API or /v2 is (the record is written after the change).
        using var admin = fixture.Http(WebUiFixture.Admin);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var audit = JsonDocument.Parse(await admin.GetStringAsync("api/v1/audit?limit=200", _ct));
            if (audit.RootElement.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("action").GetString() == "registry.delete"
                && e.GetProperty("actor").GetString() == user.UserName && e.GetProperty("detail").GetString() == "tag"
                && e.GetProperty("target").GetString()!.Contains("drop", StringComparison.Ordinal)))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "no audit record of the tag delete");
            await Task.Delay(200, _ct);
        }
        await page.Context.CloseAsync();
        await reader.Context.CloseAsync();
    }

    [Fact]
    public async Task A_readme_with_script_javascript_links_and_event_attributes_renders_as_text_and_runs_nothing()
    {
        var (page, user) = await fixture.SignedInPageAsync("readme");
        await fixture.CreateRepositoryAsync(user, user.UserName, "docs", "public", _ct);
        await page.GotoAsync($"/r/{user.UserName}/docs/settings");
        const string readme = """
            # Hello readers

            Some **bold** text and a [safe link](https://example.invalid/docs).

            <script>window.__pwned = 'script'</script>
            <img src="x" onerror="window.__pwned = 'onerror'">
            <a href="#" onclick="window.__pwned = 'onclick'">click me</a>
            [evil link](javascript:window.__pwned='javascript')
            [data link](data:text/html,<script>alert(1)</script>)
            <iframe src="javascript:window.parent.__pwned='iframe'"></iframe>
            """;
        await page.GetByLabel("README (Markdown)").FillAsync(readme);
        await page.GetByLabel("Description").FillAsync("<b onmouseover=\"window.__pwned='description'\">bold?</b>");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        Assert.Contains("Saved", await page.Locator(".flash").InnerTextAsync());

        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync($"/r/{user.UserName}/docs");
        var rendered = page.Locator(".readme");
        Assert.Equal("Hello readers", await rendered.Locator("h1").InnerTextAsync());
        Assert.Equal("bold", await rendered.Locator("strong").First.InnerTextAsync());
        Assert.Equal(0, await page.Locator(".readme script, .readme iframe, .readme img, .readme [onerror], .readme [onclick]").CountAsync());
        Assert.Contains("<script>", await rendered.InnerTextAsync()); // shown as text
        foreach (var link in await rendered.Locator("a").AllAsync())
        {
            var href = await link.GetAttributeAsync("href") ?? "";
            Assert.DoesNotContain("javascript:", href, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("data:", href, StringComparison.OrdinalIgnoreCase);
        }
        await rendered.GetByText("evil link").ClickAsync();
        await page.Locator("p.desc").HoverAsync();
        Assert.Equal("<b onmouseover=\"window.__pwned='description'\">bold?</b>", await page.Locator("p.desc").InnerTextAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__pwned ?? null"));
        Assert.Empty(errors);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Search_finds_public_repositories_by_words_suggests_as_you_type_and_never_shows_a_private_one()
    {
        var owner = fixture.NewUser("searcher");
        await fixture.SignUpAsync(owner, _ct);
        await fixture.CreateRepositoryAsync(owner, owner.UserName, "zebrafish-public", "public", _ct, description: "Striped zebrafish tools");
        await fixture.CreateRepositoryAsync(owner, owner.UserName, "zebrafish-secret", "private", _ct, description: "Hidden zebrafish plans");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await page.GetByRole(AriaRole.Combobox, new() { Name = "Search repositories" }).FillAsync("zebrafish"); // the header box, enhanced by the script
        // The script suggests matches while typing...
        var suggestion = page.Locator("#q-suggest a");
        await suggestion.First.WaitForAsync();
        Assert.Equal([$"{owner.UserName}/zebrafish-public"], await suggestion.AllInnerTextsAsync());
        // ...and the box is a plain form: Enter shows the ranked results page.
        await page.Locator("#q").PressAsync("Enter");
        await page.WaitForURLAsync("**/search?q=zebrafish");
        var names = await page.Locator("ul.results a.name").AllInnerTextsAsync();
        Assert.Equal([$"{owner.UserName}/zebrafish-public"], names);

        // Another user does not see the private one either; its owner does.
        var (other, _) = await fixture.SignedInPageAsync("outsider");
        await other.GotoAsync("/search?q=zebrafish");
        Assert.Equal([$"{owner.UserName}/zebrafish-public"], await other.Locator("ul.results a.name").AllInnerTextsAsync());
        var mine = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(mine, owner);
        await mine.GotoAsync("/search?q=zebrafish");
        Assert.Equal(2, await mine.Locator("ul.results a.name").CountAsync());
        await page.Context.CloseAsync();
        await other.Context.CloseAsync();
        await mine.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_page_of_a_private_repository_is_a_404_to_anonymous_visitors_and_other_users()
    {
        var owner = fixture.NewUser("private");
        await fixture.SignUpAsync(owner, _ct);
        var repository = $"{owner.UserName}/vault";
        await fixture.CreateRepositoryAsync(owner, owner.UserName, "vault", "private", _ct, readme: "# Secret plans", description: "vault-description");
        await fixture.PushImageAsync(owner, repository, "1", _ct);
        string[] paths = [$"/r/{repository}", $"/r/{repository}/tags", $"/r/{repository}/tags/1", $"/r/{repository}/settings", $"/r/{repository}/tags?sort=name"];

        var anonymous = await fixture.NewPageAsync();
        var (stranger, _) = await fixture.SignedInPageAsync("stranger");
        foreach (var visitor in new[] { anonymous, stranger })
        {
            foreach (var path in paths)
            {
                var response = await visitor.GotoAsync(path);
                Assert.Equal(404, response!.Status);
                var text = await visitor.Locator("main").InnerTextAsync();
                Assert.DoesNotContain("vault-description", text);
                Assert.DoesNotContain("Secret plans", text);
            }
            // A settings form posted by someone who may not change it is a 404 too, and changes nothing.
            await visitor.GotoAsync("/login"); // a form for anonymous visitors; signed-in ones land on a page with the sign-out form
            var token = await visitor.Locator("input[name=__csrf]").First.GetAttributeAsync("value");
            if (token is not null)
            {
                var post = await visitor.Context.APIRequest.PostAsync($"/r/{repository}/settings", new APIRequestContextOptions
                {
                    Form = visitor.Context.APIRequest.CreateFormData().Set("__csrf", token).Set("action", "update").Set("description", "defaced"),
                });
                Assert.Equal(404, post.Status);
                // So is the tag delete form: the tag stays.
                var delete = await visitor.Context.APIRequest.PostAsync($"/r/{repository}/tags/1", new APIRequestContextOptions
                {
                    Form = visitor.Context.APIRequest.CreateFormData().Set("__csrf", token).Set("action", "delete").Set("confirm", "1"),
                });
                Assert.Equal(404, delete.Status);
            }
            var builds = await visitor.GotoAsync("/builds?repository=" + Uri.EscapeDataString(repository));
            Assert.DoesNotContain("vault", await visitor.Locator("main table").CountAsync() > 0 ? await visitor.Locator("main table").InnerTextAsync() : "");
            Assert.NotNull(builds);
        }
        using var http = fixture.Http(owner);
        Assert.Equal("vault-description", JsonDocument.Parse(await http.GetStringAsync($"api/v1/repositories/{repository}")).RootElement.GetProperty("description").GetString());

        // The owner sees all of it.
        var mine = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(mine, owner);
        foreach (var path in paths) Assert.Equal(200, (await mine.GotoAsync(path))!.Status);
        await anonymous.Context.CloseAsync();
        await stranger.Context.CloseAsync();
        await mine.Context.CloseAsync();
    }
}
