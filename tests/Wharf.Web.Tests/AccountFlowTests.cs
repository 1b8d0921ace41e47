using System.Net;
using System.Text;
using Microsoft.Playwright;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>Sign-up, sign-in, the session cookie, sign-out, password changes and antiforgery, in a real browser.</summary>
[Collection(WebUiCollection.Name)]
public sealed class AccountFlowTests(WebUiFixture fixture)
{
    [Fact]
    public async Task Sign_up_creates_the_account_signs_in_and_shows_the_new_namespace()
    {
        var user = fixture.NewUser("newcomer");
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign up" }).ClickAsync();
        await page.GetByLabel("User name").FillAsync(user.UserName);
        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();

        await page.WaitForURLAsync($"**/u/{user.UserName}");
        Assert.Equal(user.UserName, await page.Locator("h1").InnerTextAsync());
        Assert.Contains("Welcome", await page.Locator(".flash").InnerTextAsync());
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).IsVisibleAsync());
        // The account is real: the API takes the same password.
        using var http = fixture.Http(user);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("api/v1/user")).StatusCode);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Sign_up_with_a_taken_name_says_so_and_keeps_what_was_typed()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/signup");
        await page.GetByLabel("User name").FillAsync(WebUiFixture.Admin.UserName);
        await page.GetByLabel("Password").FillAsync("some-password-9");
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync(), r => r.Url.EndsWith("/signup", StringComparison.Ordinal));
        Assert.Equal(409, response.Status);
        Assert.Contains("taken", await page.GetByRole(AriaRole.Alert).InnerTextAsync());
        Assert.Equal(WebUiFixture.Admin.UserName, await page.GetByLabel("User name").InputValueAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Sign_in_with_a_wrong_password_is_refused_then_the_right_one_signs_in_with_an_httponly_lax_cookie()
    {
        var user = fixture.NewUser("signer");
        await fixture.SignUpAsync(user, CancellationToken.None);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/login?returnUrl=%2Fsettings");
        await page.GetByLabel("User name").FillAsync(user.UserName);
        await page.GetByLabel("Password").FillAsync("not-the-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        Assert.Contains("Wrong user name or password", await page.GetByRole(AriaRole.Alert).InnerTextAsync());
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "wharf_session");

        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**/settings");
        Assert.Contains(user.UserName, await page.Locator("dl.facts").InnerTextAsync());

        var session = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "wharf_session");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, session.SameSite);
        Assert.False(session.Secure); // plain HTTP here; see SessionCookieTests for TLS
        // Scripts cannot read it.
        Assert.DoesNotContain("wharf_session", await page.EvaluateAsync<string>("() => document.cookie"));

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
        Assert.True(await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).IsVisibleAsync());
        await page.GotoAsync("/settings");
        Assert.Contains("/login", page.Url);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_personal_access_token_is_not_a_web_password()
    {
        var user = fixture.NewUser("tokenlogin");
        await fixture.SignUpAsync(user, CancellationToken.None);
        using var http = fixture.Http(user);
        using var created = await http.PostAsync("api/v1/tokens", new StringContent("""{"name":"t","scopes":["pull"]}""", Encoding.UTF8, "application/json"));
        var secret = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").FillAsync(user.UserName);
        await page.GetByLabel("Password").FillAsync(secret);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        Assert.Contains("Sign in with your password", await page.GetByRole(AriaRole.Alert).InnerTextAsync());
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "wharf_session");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Changing_the_password_ends_the_other_sessions_and_keeps_this_one()
    {
        var (page, user) = await fixture.SignedInPageAsync("changer");
        var other = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(other, user);

        await page.GotoAsync("/settings");
        await page.GetByLabel("Current password").FillAsync(user.Password);
        await page.GetByLabel("New password").FillAsync("a-brand-new-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Change password" }).ClickAsync();
        Assert.Contains("Password changed", await page.Locator(".flash").InnerTextAsync());
        await page.ReloadAsync();
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).IsVisibleAsync());

        await other.GotoAsync("/settings");
        Assert.Contains("/login", other.Url);
        await page.Context.CloseAsync();
        await other.Context.CloseAsync();
    }

    [Fact]
    public async Task A_password_changed_through_the_api_ends_web_sessions_too()
    {
        var (page, user) = await fixture.SignedInPageAsync("apichanger");
        using var http = fixture.Http(user);
        using var changed = await http.PutAsync("api/v1/user/password",
            new StringContent($$"""{"current_password":"{{user.Password}}","new_password":"changed-by-the-api-1"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        await page.GotoAsync("/settings");
        Assert.Contains("/login", page.Url);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_form_posted_without_its_antiforgery_token_is_refused_and_changes_nothing()
    {
        var (page, user) = await fixture.SignedInPageAsync("forger");
        // The browser's own cookies (session included), but no token: what a forged cross-site form would send.
        var response = await page.Context.APIRequest.PostAsync("/settings/orgs", new APIRequestContextOptions
        {
            Form = page.Context.APIRequest.CreateFormData().Set("name", user.UserName + "-org"),
        });
        Assert.Equal(400, response.Status);
        Assert.Contains("did not carry a valid security token", await response.TextAsync());
        // A wrong token is refused the same way.
        var wrong = await page.Context.APIRequest.PostAsync("/settings/orgs", new APIRequestContextOptions
        {
            Form = page.Context.APIRequest.CreateFormData().Set("name", user.UserName + "-org").Set("__csrf", "CfDJ8-forged"),
        });
        Assert.Equal(400, wrong.Status);
        using var http = fixture.Http(user);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"api/v1/orgs/{user.UserName}-org")).StatusCode);

        // The multipart build form checks its token too, and keeps nothing of a refused upload.
        var build = await page.Context.APIRequest.PostAsync("/builds/new", new APIRequestContextOptions
        {
            Multipart = page.Context.APIRequest.CreateFormData().Set("image", $"{user.UserName}/forged:1").Set("dockerfile_text", "FROM scratch\n"),
        });
        Assert.Equal(400, build.Status);
        using var builds = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("api/v1/builds"));
        Assert.Equal(0, builds.RootElement.GetProperty("builds").GetArrayLength());
        await page.Context.CloseAsync();
    }
}
