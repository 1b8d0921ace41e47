using Microsoft.Playwright;

namespace Wharf.Web.Tests;

/// <summary>Builds from the form with real buildah: the log followed live, success, retry of a failure, image details.</summary>
[Collection(WebUiCollection.Name)]
public sealed class BuildFlowTests(WebUiFixture fixture)
{
    [Fact]
    public async Task A_build_started_from_the_form_streams_its_log_live_and_succeeds_with_its_image_on_the_repository_page()
    {
        var (page, user) = await fixture.SignedInPageAsync("builder");
        await page.GotoAsync("/builds");
        await page.GetByRole(AriaRole.Link, new() { Name = "New build" }).ClickAsync();
        await page.GetByLabel("Image").FillAsync($"{user.UserName}/built:1");
        await page.GetByLabel("Dockerfile").FillAsync(
            $"FROM {fixture.Host}/library/busybox:latest\n" +
            "LABEL org.opencontainers.image.title=built-in-the-browser\n" +
            "EXPOSE 8080/tcp\n" +
            "RUN echo first-line && sleep 2 && echo second-line > /out.txt\n" +
            "CMD [\"cat\", \"/out.txt\"]\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start build" }).ClickAsync();
        await page.WaitForURLAsync("**/builds/*");
        var buildUrl = page.Url;

        // Lines arrive through the event stream while the page stays open (the script marks what it appended)...
        await page.Locator("#build-log[data-lines]").WaitForAsync(new() { Timeout = 120_000 });
        await page.Locator("#build-log").GetByText("first-line").First.WaitForAsync(new() { Timeout = 120_000 });
        // ...and when the build ends the page shows the outcome.
        await page.Locator("#build-state.state-succeeded").WaitForAsync(new() { Timeout = 180_000 });
        Assert.Equal(buildUrl, page.Url);
        Assert.Equal("Completed", await page.Locator("#build-status").InnerTextAsync());
        Assert.Equal("Completed", await page.Locator("#push-status").InnerTextAsync());
        var digest = await page.Locator("#build-digest").InnerTextAsync();
        Assert.StartsWith("sha256:", digest);
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Retry the build" }).CountAsync());

        // The list shows it; the image's details come from its config.
        await page.GotoAsync($"/builds?state=succeeded");
        Assert.Contains($"{user.UserName}/built:1", await page.Locator("table").InnerTextAsync());
        await page.GotoAsync($"/r/{user.UserName}/built/tags/1");
        var details = await page.Locator("main").InnerTextAsync();
        Assert.Contains("8080/tcp", details);
        Assert.Contains("built-in-the-browser", details);
        Assert.Contains("echo first-line", details);
        Assert.Contains(digest, details);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_failed_build_is_retried_from_its_page()
    {
        var (page, user) = await fixture.SignedInPageAsync("retrier");
        await page.GotoAsync("/builds/new");
        await page.GetByLabel("Image").FillAsync($"{user.UserName}/broken:1");
        await page.GetByLabel("Dockerfile").FillAsync($"FROM {fixture.Host}/library/busybox:latest\nRUN echo about-to-fail && exit 3\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start build" }).ClickAsync();
        await page.Locator("#build-state.state-failed").WaitForAsync(new() { Timeout = 180_000 });
        Assert.Equal("Failed", await page.Locator("#build-status").InnerTextAsync());
        Assert.Contains("about-to-fail", await page.Locator("#build-log").InnerTextAsync());

        await page.GetByRole(AriaRole.Button, new() { Name = "Retry the build" }).ClickAsync();
        Assert.Contains("Retrying", await page.Locator(".flash").InnerTextAsync());
        // It runs again (a second attempt) and fails the same way.
        await page.Locator("#build-state.state-failed").WaitForAsync(new() { Timeout = 180_000 });
        await page.GetByText("Attempts").WaitForAsync();
        var facts = await page.Locator("dl.facts").InnerTextAsync();
        Assert.Matches(@"Attempts\s+2", facts);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_refused_build_form_says_why_and_keeps_the_dockerfile()
    {
        var (page, user) = await fixture.SignedInPageAsync("refused");
        await page.GotoAsync("/builds/new");
        await page.GetByLabel("Image").FillAsync("someone-else/app:1");
        await page.GetByLabel("Dockerfile").FillAsync("FROM scratch\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start build" }).ClickAsync();
        Assert.Contains("You may not push to someone-else/app", await page.GetByRole(AriaRole.Alert).InnerTextAsync());
        Assert.Equal("FROM scratch\n", await page.GetByLabel("Dockerfile").InputValueAsync());
        Assert.Equal("someone-else/app:1", await page.GetByLabel("Image").InputValueAsync());
        _ = user;
        await page.Context.CloseAsync();
    }
}
