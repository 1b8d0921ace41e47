using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Wharf.Web.Tests;

/// <summary>
/// The administrators' users tab in a real browser: disable and enable (an open session of the disabled user ends at
/// once), unlock, make administrator and take it away, delete after typing the name; everyone else gets a 404.
/// </summary>
[Collection(WebUiCollection.Name)]
public sealed partial class AdminFlowTests(WebUiFixture fixture)
{
    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    [Fact]
    public async Task Disabling_a_user_in_the_users_tab_ends_their_open_session_at_once_and_enabling_lets_them_sign_in_again()
    {
        var (session, user) = await fixture.SignedInPageAsync("disablee");
        var admin = await AdminPageAsync();
        await OpenUserRowAsync(admin, user.UserName);

        await ClickAsync(admin, $"Disable {user.UserName}");
        Assert.Contains($"{user.UserName} disabled", await admin.Locator(".flash").InnerTextAsync());
        Assert.Contains("disabled", await Row(admin, user.UserName).Locator("td[data-label=State]").InnerTextAsync());

        // The open session of the disabled user ends at its next request: no waiting for a cache.
        await session.GotoAsync("/settings");
        Assert.Contains("/login", session.Url);
        await session.GetByLabel("User name").FillAsync(user.UserName);
        await session.GetByLabel("Password").FillAsync(user.Password);
        await session.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        Assert.Contains("/login", session.Url);
        Assert.DoesNotContain(await session.Context.CookiesAsync(), c => c.Name == "wharf_session");

        await ClickAsync(admin, $"Enable {user.UserName}");
        Assert.Contains($"{user.UserName} enabled", await admin.Locator(".flash").InnerTextAsync());
        Assert.Contains("active", await Row(admin, user.UserName).Locator("td[data-label=State]").InnerTextAsync());
        await WebUiFixture.SignInAsync(session, user);
        await session.GotoAsync("/settings");
        Assert.EndsWith("/settings", session.Url);

        await admin.GotoAsync("/admin?tab=audit");
        Assert.Contains("user.disabled", await admin.Locator("main table").InnerTextAsync());
        await admin.Context.CloseAsync();
        await session.Context.CloseAsync();
    }

    [Fact]
    public async Task An_administrator_made_in_the_users_tab_sees_the_admin_pages_and_taking_it_away_ends_their_session()
    {
        var (session, user) = await fixture.SignedInPageAsync("promotee");
        var notYet = await session.GotoAsync("/admin");
        Assert.Equal(404, notYet!.Status);

        var admin = await AdminPageAsync();
        await OpenUserRowAsync(admin, user.UserName);
        await ClickAsync(admin, $"Make administrator {user.UserName}");
        Assert.Contains($"{user.UserName} is now an administrator", await admin.Locator(".flash").InnerTextAsync());
        Assert.Equal("administrator", await Row(admin, user.UserName).Locator("td[data-label=Role]").InnerTextAsync());

        // The open session follows at once.
        var now = await session.GotoAsync("/admin?tab=users");
        Assert.Equal(200, now!.Status);

        await ClickAsync(admin, $"Remove administrator {user.UserName}");
        Assert.Contains("no longer an administrator", await admin.Locator(".flash").InnerTextAsync());
        Assert.Equal("user", await Row(admin, user.UserName).Locator("td[data-label=Role]").InnerTextAsync());
        await session.GotoAsync("/admin");
        Assert.Contains("/login", session.Url);
        await admin.Context.CloseAsync();
        await session.Context.CloseAsync();
    }

    [Fact]
    public async Task A_user_locked_out_by_failed_sign_ins_is_unlocked_from_the_users_tab()
    {
        var user = fixture.NewUser("lockee");
        await fixture.SignUpAsync(user, CancellationToken.None);
        using (var wrong = fixture.Http(user with { Password = "not-the-password" }))
        {
            HttpStatusCode status;
            var attempts = 0;
            do
            {
                using var answer = await wrong.GetAsync("api/v1/user");
                status = answer.StatusCode;
                Assert.True(++attempts <= 20, $"still {status} after {attempts} wrong passwords");
            }
            while (status != HttpStatusCode.TooManyRequests);
        }
        using (var right = fixture.Http(user))
        using (var limited = await right.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);

        var admin = await AdminPageAsync();
        await OpenUserRowAsync(admin, user.UserName);
        Assert.Contains("sign-in locked", await Row(admin, user.UserName).InnerTextAsync());
        await ClickAsync(admin, $"Unlock {user.UserName}");
        Assert.Contains($"{user.UserName} unlocked", await admin.Locator(".flash").InnerTextAsync());
        Assert.DoesNotContain("sign-in locked", await Row(admin, user.UserName).InnerTextAsync());
        using (var right = fixture.Http(user))
        using (var ok = await right.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await admin.Context.CloseAsync();
    }

    [Fact]
    public async Task Deleting_a_user_asks_for_the_name_then_removes_the_account()
    {
        var user = fixture.NewUser("deletee");
        await fixture.SignUpAsync(user, CancellationToken.None);
        var admin = await AdminPageAsync();
        await OpenUserRowAsync(admin, user.UserName);
        await Row(admin, user.UserName).GetByRole(AriaRole.Link, new() { Name = $"Delete {user.UserName}" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(admin, $"**/admin/users/{user.UserName}/delete");

        await admin.GetByLabel("Type").FillAsync("not-the-name");
        await admin.GetByRole(AriaRole.Button, new() { Name = $"Delete {user.UserName}" }).ClickAsync();
        Assert.Contains("exactly", await admin.GetByRole(AriaRole.Alert).InnerTextAsync());
        using (var still = fixture.Http(user))
        using (var ok = await still.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        await admin.GetByLabel("Type").FillAsync(user.UserName);
        await admin.GetByRole(AriaRole.Button, new() { Name = $"Delete {user.UserName}" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(admin, "**/admin?tab=users");
        Assert.Contains($"Deleted '{user.UserName}'", await admin.Locator(".flash").InnerTextAsync());
        using (var gone = fixture.Http(user))
        using (var refused = await gone.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        await admin.Context.CloseAsync();
    }

    [Fact]
    public async Task The_users_tab_and_its_actions_are_a_404_to_everyone_but_administrators()
    {
        var victim = fixture.NewUser("victim");
        await fixture.SignUpAsync(victim, CancellationToken.None);
        var (page, _) = await fixture.SignedInPageAsync("nonadmin");
        Assert.Equal(404, (await page.GotoAsync("/admin?tab=users"))!.Status);
        Assert.Equal(404, (await page.GotoAsync($"/admin/users/{victim.UserName}/delete"))!.Status);
        // A form with this user's own valid token: refused for who they are, not for the token.
        await page.GotoAsync("/settings");
        var token = WebUtility.HtmlDecode(CsrfField().Match(await page.ContentAsync()).Groups[1].Value);
        var posted = await page.Context.APIRequest.PostAsync($"/admin/users/{victim.UserName}", new APIRequestContextOptions
        {
            Form = page.Context.APIRequest.CreateFormData().Set("__csrf", token).Set("action", "disable"),
            MaxRedirects = 0,
        });
        Assert.Equal(404, posted.Status);
        using (var ok = fixture.Http(victim))
        using (var answer = await ok.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        var anonymous = await fixture.NewPageAsync();
        await anonymous.GotoAsync("/admin?tab=users");
        Assert.Contains("/login", anonymous.Url);
        await page.Context.CloseAsync();
        await anonymous.Context.CloseAsync();
    }

    [Fact]
    public async Task The_users_tab_pages_through_every_user_in_name_order()
    {
        var admin = await AdminPageAsync();
        using var http = fixture.Http(WebUiFixture.Admin);
        var expected = new List<string>();
        string? cursor = null;
        do
        {
            using var page = JsonDocument.Parse(await http.GetStringAsync("api/v1/users?limit=500" + (cursor is null ? "" : "&cursor=" + cursor)));
            expected.AddRange(page.RootElement.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()!));
            cursor = page.RootElement.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        var shown = new List<string>();
        while (true)
        {
            shown.AddRange(await admin.Locator("main table tbody td[data-label=User] a").AllInnerTextsAsync());
            var next = admin.GetByRole(AriaRole.Link, new() { Name = "Next" });
            if (await next.CountAsync() == 0) break;
            await next.ClickAsync();
        }
        // Users made by other tests meanwhile may appear on the pages; every user listed before is shown, in order.
        Assert.Equal(shown.Order(StringComparer.Ordinal), shown);
        Assert.Empty(expected.Except(shown));
        await admin.Context.CloseAsync();
    }

    private async Task<IPage> AdminPageAsync()
    {
        var admin = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(admin, WebUiFixture.Admin);
        await admin.GotoAsync("/admin");
        Assert.Equal("page", await admin.GetByRole(AriaRole.Link, new() { Name = "Users" }).First.GetAttributeAsync("aria-current"));
        return admin;
    }

    private static ILocator Row(IPage page, string username) =>
        page.Locator("main table tbody tr").Filter(new() { Has = page.Locator("td[data-label=User] a", new() { HasTextRegex = new Regex($"^{Regex.Escape(username)}$") }) });

    /// <summary>Follows "Next" through the users tab until the user's row is on the page (the list is paged in name order).</summary>
    private static async Task OpenUserRowAsync(IPage page, string username)
    {
        for (var pages = 0; await Row(page, username).CountAsync() == 0; pages++)
        {
            var next = page.GetByRole(AriaRole.Link, new() { Name = "Next" });
            Assert.True(pages < 50 && await next.CountAsync() > 0, $"{username} is on no page of the users tab");
            await next.ClickAsync();
        }
    }

    /// <summary>Clicks an action button and waits for the page it redirects back to.</summary>
    private static async Task ClickAsync(IPage page, string button)
    {
        // The page comes back to the same URL, so wait for the next document's load event rather than for a URL.
        var loaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLoad(object? sender, IPage loadedPage) => loaded.TrySetResult();
        page.Load += OnLoad;
        try
        {
            await page.GetByRole(AriaRole.Button, new() { Name = button, Exact = true }).ClickAsync();
            await loaded.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            page.Load -= OnLoad;
        }
    }
}
