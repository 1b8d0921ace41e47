using System.Text;
using System.Text.Json;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>
/// Every page, filled with real content (a README, a multi-platform tag, an organization, a finished build), checked by
/// axe-core in the browser in both themes, shown at phone width, and photographed at desktop and phone width.
/// Screenshots go to <c>docs/ui/</c> when <c>WHARF_UPDATE_SCREENSHOTS=1</c>, else to a temporary folder.
/// </summary>
[Collection(WebUiCollection.Name)]
public sealed class PageTourTests(WebUiFixture fixture)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    private sealed record Stop(string Name, string Path, bool AsAdmin = false);

    private sealed record Tour(RegistryCredentials User, List<Stop> Stops);

    private async Task<(RegistryCredentials User, List<Stop> Stops)> FurnishAsync()
    {
        var tour = await fixture.SharedAsync("tour", async () => { var (u, s) = await MakeTourAsync(); return new Tour(u, s); });
        return (tour.User, tour.Stops);
    }

    private async Task<(RegistryCredentials User, List<Stop> Stops)> MakeTourAsync()
    {
        var user = fixture.NewUser("tour");
        await fixture.SignUpAsync(user, _ct);
        var repository = $"{user.UserName}/webapp";
        await fixture.CreateRepositoryAsync(user, user.UserName, "webapp", "public", _ct, description: "A small web application image",
            readme: "# webapp\n\nA demo image.\n\n```sh\ndocker run --rm -p 8080:8080 IMAGE\n```\n\n| tag | meaning |\n|---|---|\n| 2.0 | current |\n| 1.0 | old |\n");
        await fixture.PushImageAsync(user, repository, "1.0", _ct);
        await fixture.PushIndexAsync(user, repository, "2.0", _ct);
        using var http = fixture.Http(user);
        await http.PostAsync("api/v1/orgs", new StringContent(JsonSerializer.Serialize(new { name = user.UserName + "-org" }), Encoding.UTF8, "application/json"), _ct);
        await http.PostAsync("api/v1/tokens", new StringContent("""{"name":"laptop","scopes":["pull","push"]}""", Encoding.UTF8, "application/json"), _ct);
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(Encoding.UTF8.GetBytes($"FROM {fixture.Host}/library/busybox:latest\nRUN echo hello from the tour\n")), "dockerfile", "Dockerfile" },
            { new StringContent($"{repository}:built"), "image" },
        };
        using var submitted = await http.PostAsync("api/v1/builds", form, _ct);
        var buildId = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync(_ct)).RootElement.GetProperty("id").GetString()!;
        while (true)
        {
            var state = JsonDocument.Parse(await http.GetStringAsync($"api/v1/builds/{buildId}", _ct)).RootElement.GetProperty("state").GetString();
            if (state is not ("queued" or "running")) break;
            await Task.Delay(200, _ct);
        }
        return (user, [
            new("home", "/"),
            new("search", "/search?q=webapp"),
            new("repository", $"/r/{repository}"),
            new("tags", $"/r/{repository}/tags"),
            new("tag", $"/r/{repository}/tags/2.0?platform=linux%2Farm64"),
            new("namespace", $"/u/{user.UserName}"),
            new("repository-settings", $"/r/{repository}/settings"),
            new("new-repository", "/new"),
            new("settings", "/settings"),
            new("tokens", "/settings?tab=tokens"),
            new("organizations", "/settings?tab=orgs"),
            new("organization", $"/settings/orgs/{user.UserName}-org"),
            new("credentials", "/settings?tab=credentials"),
            new("builds", "/builds"),
            new("build", $"/builds/{buildId}"),
            new("new-build", "/builds/new"),
            new("admin", "/admin", AsAdmin: true),
            new("admin-audit", "/admin?tab=audit", AsAdmin: true),
            new("admin-gc", "/admin?tab=gc", AsAdmin: true),
            new("admin-delete-user", $"/admin/users/{user.UserName}/delete", AsAdmin: true),
            new("not-found", "/r/nobody/nothing"),
        ]);
    }

    [Fact]
    public async Task Axe_finds_no_serious_or_critical_violation_on_any_page_in_either_theme()
    {
        var (user, stops) = await FurnishAsync();
        var problems = new List<string>();
        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            var page = await fixture.NewPageAsync(scheme);
            var admin = await fixture.NewPageAsync(scheme);
            await WebUiFixture.SignInAsync(page, user);
            await WebUiFixture.SignInAsync(admin, WebUiFixture.Admin);
            var anonymous = await fixture.NewPageAsync(scheme);
            foreach (var stop in stops.Concat([new Stop("login", "/login"), new Stop("signup", "/signup")]))
            {
                var visitor = stop.AsAdmin ? admin : stop.Name is "login" or "signup" ? anonymous : page;
                await visitor.GotoAsync(stop.Path);
                var result = await visitor.RunAxe();
                foreach (var violation in result.Violations.Where(v => v.Impact is "serious" or "critical"))
                {
                    problems.Add($"{scheme} {stop.Name} ({stop.Path}): {violation.Id} [{violation.Impact}] {violation.Help}: " +
                        string.Join(" | ", violation.Nodes.Take(3).Select(n => n.Html)));
                }
            }
            await page.Context.CloseAsync();
            await admin.Context.CloseAsync();
            await anonymous.Context.CloseAsync();
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task At_phone_width_tables_stack_into_labelled_cards_and_screenshots_of_the_main_pages_are_made()
    {
        var (user, stops) = await FurnishAsync();
        var folder = ScreenshotFolder();
        foreach (var (size, width, height) in new[] { ("desktop", 1280, 860), ("phone", 390, 844) })
        {
            var page = await fixture.NewPageAsync(ColorScheme.Light, width, height);
            var admin = await fixture.NewPageAsync(ColorScheme.Light, width, height);
            await WebUiFixture.SignInAsync(page, user);
            await WebUiFixture.SignInAsync(admin, WebUiFixture.Admin);
            foreach (var stop in stops.Where(s => s.Name is "home" or "search" or "repository" or "tags" or "tag" or "namespace" or "tokens" or "organization" or "builds" or "build" or "new-build" or "admin"))
            {
                var visitor = stop.AsAdmin ? admin : page;
                await visitor.GotoAsync(stop.Path);
                await visitor.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, $"{stop.Name}-{size}.png"), FullPage = true });
            }
            await page.GotoAsync(stops.Single(s => s.Name == "tags").Path);
            var display = await page.Locator("table.stack tbody tr").First.EvaluateAsync<string>("e => getComputedStyle(e).display");
            var label = await page.Locator("table.stack tbody td").First.EvaluateAsync<string>("e => getComputedStyle(e, '::before').content");
            var scrolls = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1");
            if (size == "phone")
            {
                Assert.Equal("block", display);
                Assert.Equal("\"Tag\"", label);
                Assert.False(scrolls, "the tags page scrolls sideways at phone width");
            }
            else
            {
                Assert.Equal("table-row", display);
            }
            await page.Context.CloseAsync();
            await admin.Context.CloseAsync();
        }
        // A dark-theme picture of the repository page.
        var dark = await fixture.NewPageAsync(ColorScheme.Dark);
        await dark.GotoAsync(stops.Single(s => s.Name == "repository").Path);
        await dark.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, "repository-dark.png"), FullPage = true });
        await dark.Context.CloseAsync();
        Assert.True(File.Exists(Path.Combine(folder, "tags-phone.png")));
    }

    private static string ScreenshotFolder()
    {
        if (Environment.GetEnvironmentVariable("WHARF_UPDATE_SCREENSHOTS") != "1") return Directory.CreateTempSubdirectory("wharf-ui-shots-").FullName;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Wharf.slnx"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return Directory.CreateDirectory(Path.Combine(dir!.FullName, "docs", "ui")).FullName;
    }
}
