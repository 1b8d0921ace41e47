using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>
/// The administrators' storage and GC tab in a real browser: stored bytes, the namespaces using the most with their
/// quotas, a dry run from the tab that says what it found and changes nothing, the recorded runs; a 404 to anyone else.
/// </summary>
[Collection(WebUiCollection.Name)]
public sealed class AdminGcTabTests(WebUiFixture fixture)
{
    [Fact]
    public async Task The_gc_tab_shows_usage_and_quota_runs_a_dry_run_and_lists_it_among_the_runs()
    {
        var ct = CancellationToken.None;
        var user = fixture.NewUser("stored");
        await fixture.SignUpAsync(user, ct);
        // Big enough to be among the namespaces using the most, whatever the other tests pushed.
        await using (var layout = TempDirectory.Create("gcimg"))
        {
            var image = await TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 3 * 1024 * 1024 }).WriteOciLayoutAsync(layout.Combine("l"), "1", ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{fixture.Host}/{user.UserName}/app:1", fixture.Registry(user), ct);
        }
        using (var admin = fixture.Http(WebUiFixture.Admin))
        using (var quota = await admin.PutAsJsonAsync($"api/v1/namespaces/{user.UserName}/quota", new { bytes = 100_000_000 }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, quota.StatusCode);
        }

        var page = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(page, WebUiFixture.Admin);
        await page.GotoAsync("/admin?tab=gc");
        Assert.Equal("page", await page.GetByRole(AriaRole.Link, new() { Name = "Storage and GC" }).GetAttributeAsync("aria-current"));
        var row = page.Locator("table[aria-label='Storage by namespace'] tbody tr").Filter(new() { HasText = user.UserName });
        Assert.Equal("100 MB", await row.Locator("td[data-label=Quota]").InnerTextAsync());
        Assert.StartsWith("6.", await row.Locator("td[data-label=Used]").InnerTextAsync(), StringComparison.Ordinal); // 6.29 MB (6.3%)
        Assert.Equal("3", await row.Locator("td[data-label=Blobs]").InnerTextAsync()); // two layers and the config

        await page.GetByRole(AriaRole.Button, new() { Name = "Dry run" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(page, "**/admin/gc");
        Assert.Contains("nothing was changed", await page.Locator("section.gc-report").InnerTextAsync());
        var latest = page.Locator("table[aria-label='Garbage collections'] tbody tr").First;
        Assert.Equal("dry run", await latest.Locator("td[data-label=Kind]").InnerTextAsync());
        Assert.Equal("ui", await latest.Locator("td[data-label=Trigger]").InnerTextAsync());
        Assert.Equal("ok", await latest.Locator("td[data-label=Result]").InnerTextAsync());
        // The dry run changed nothing: the image still pulls.
        using (var http = fixture.Http(user))
        using (var manifest = await http.GetAsync($"v2/{user.UserName}/app/manifests/1", ct)) Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);

        var (other, _) = await fixture.SignedInPageAsync("notadmin");
        Assert.Equal(404, (await other.GotoAsync("/admin?tab=gc"))!.Status);
        await page.Context.CloseAsync();
        await other.Context.CloseAsync();
    }
}
