using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace Wharf.Web.Tests;

/// <summary>Tokens (shown once, then used by the real docker client), organizations and their members.</summary>
[Collection(WebUiCollection.Name)]
public sealed class SettingsFlowTests(WebUiFixture fixture)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;

    [Fact]
    public async Task A_token_created_in_settings_is_shown_once_with_a_docker_login_line_that_works()
    {
        var (page, user) = await fixture.SignedInPageAsync("ci");
        await page.GotoAsync("/settings?tab=tokens");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("ci-pipeline");
        await page.GetByLabel("push").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create token" }).ClickAsync();
        var secret = await page.Locator("#token-secret").InnerTextAsync();
        Assert.StartsWith("wharf_pat_", secret);
        var login = await page.Locator("#docker-login").InnerTextAsync();
        Assert.Equal($"docker login {fixture.Host} -u {user.UserName} -p {secret}", login);
        Assert.Equal(login, await page.Locator("#docker-login + button").GetAttributeAsync("data-copy"));
        var row = page.Locator("table tbody tr").Filter(new() { HasText = "ci-pipeline" });
        Assert.Contains("pull, push", await row.InnerTextAsync());

        // The real docker client logs in with it.
        var docker = fixture.Docker;
        var result = await docker.DockerCheckedAsync(["login", "--username", user.UserName, "--password-stdin", fixture.Host], _ct, standardInput: secret);
        Assert.Contains("Login Succeeded", result.StandardOutput);
        await docker.DockerAsync(["logout", fixture.Host], _ct);

        // Shown once: the settings page never shows it again.
        await page.GotoAsync("/settings?tab=tokens");
        Assert.DoesNotContain(secret, await page.ContentAsync());
        // Revoked from the list, it stops working.
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke token ci-pipeline" }).ClickAsync();
        Assert.Contains("Token revoked", await page.Locator(".flash").InnerTextAsync());
        var refused = await docker.DockerAsync(["login", "--username", user.UserName, "--password-stdin", fixture.Host], _ct, standardInput: secret);
        Assert.False(refused.Succeeded, refused.Describe());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_owner_creates_an_organization_and_adds_a_member_whose_role_then_applies()
    {
        var (page, owner) = await fixture.SignedInPageAsync("founder");
        var member = fixture.NewUser("colleague");
        await fixture.SignUpAsync(member, _ct);
        var org = owner.UserName + "-team";
        await page.GotoAsync("/settings?tab=orgs");
        await page.GetByLabel("Name").FillAsync(org);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create organization" }).ClickAsync();
        await WebUiFixture.ExpectUrlAsync(page, $"**/settings/orgs/{org}");
        await page.GetByLabel("User name").FillAsync(member.UserName);
        await page.GetByLabel("Role").SelectOptionAsync("maintainer");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save member" }).ClickAsync();
        Assert.Contains($"{member.UserName} is now maintainer", await page.Locator(".flash").InnerTextAsync());
        var row = page.Locator("table tbody tr").Filter(new() { HasText = member.UserName });
        Assert.Contains("maintainer", await row.InnerTextAsync());

        // Maintainers push: the member may now create repositories in the organization.
        using var http = fixture.Http(member);
        var created = await http.PostAsync("api/v1/repositories", new StringContent(
            JsonSerializer.Serialize(new { @namespace = org, name = "shared", visibility = "private" }), System.Text.Encoding.UTF8, "application/json"), _ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        // An unknown user is a clear message, not an error page.
        await page.GetByLabel("User name").FillAsync("nobody-by-that-name");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save member" }).ClickAsync();
        Assert.Contains("No user 'nobody-by-that-name'", await page.GetByRole(AriaRole.Alert).InnerTextAsync());

        // The member sees the organization, but is no owner: no member forms.
        var theirs = await fixture.NewPageAsync();
        await WebUiFixture.SignInAsync(theirs, member);
        await theirs.GotoAsync($"/settings/orgs/{org}");
        Assert.Contains(owner.UserName, await theirs.Locator("table").InnerTextAsync());
        Assert.Equal(0, await theirs.GetByRole(AriaRole.Button, new() { Name = "Save member" }).CountAsync());
        // An outsider gets a 404.
        var (outsider, _) = await fixture.SignedInPageAsync("outsider-org");
        Assert.Equal(404, (await outsider.GotoAsync($"/settings/orgs/{org}"))!.Status);
        await page.Context.CloseAsync();
        await theirs.Context.CloseAsync();
        await outsider.Context.CloseAsync();
    }
}
