using System.Globalization;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Server.Endpoints;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// <c>/settings</c>: password, personal access tokens (the secret shown once, with a <c>docker login</c> line),
/// organizations and their members, registry credentials. Each form calls the account use case the API calls.
/// </summary>
internal static class SettingsPages
{
    private static readonly string[] Tabs = ["account", "tokens", "orgs", "credentials"];

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/settings", ShowAsync);
        pages.MapPost("/settings/password", ChangePasswordAsync);
        pages.MapPost("/settings/tokens", CreateTokenAsync);
        pages.MapPost("/settings/tokens/{id}/revoke", RevokeTokenAsync);
        pages.MapPost("/settings/orgs", CreateOrganizationAsync);
        pages.MapGet("/settings/orgs/{org}", OrganizationAsync);
        pages.MapPost("/settings/orgs/{org}/members", SetMemberAsync);
        pages.MapPost("/settings/orgs/{org}/members/{user}/remove", RemoveMemberAsync);
        pages.MapPost("/settings/credentials", StoreCredentialAsync);
        pages.MapPost("/settings/credentials/{id}/delete", DeleteCredentialAsync);
    }

    private static async Task<IResult> ShowAsync(HttpContext context, string? tab, CancellationToken ct)
    {
        if (context.RequestServices.GetService<AccountService>() is null) return WebUi.NotFound(context, "This Wharf runs without accounts: there is nothing to set.");
        if (context.User.Username() is null) return WebUi.SignInFirst(context);
        var model = await ModelAsync(context, Tabs.Contains(tab) ? tab! : "account", null, null, ct);
        return model is null ? WebUi.SignInFirst(context) : WebUi.Page<SettingsPage>(PageShell.For(context, "Settings", "settings"), model);
    }

    private static async Task<SettingsModel?> ModelAsync(HttpContext context, string tab, CreatedAccessToken? created, string? error, CancellationToken ct)
    {
        var services = context.RequestServices;
        var accounts = services.GetRequiredService<AccountService>();
        var user = await accounts.FindUserAsync(context.User.Username()!, ct);
        if (user is null) return null;
        var tokens = tab == "tokens" ? (await accounts.ListAccessTokensAsync(AccountsApi.Origin(context), ct)).Value ?? [] : [];
        var orgs = tab == "orgs" ? await services.GetRequiredService<RepositoryPermissions>().GetMembershipsAsync(user.Name, ct) : new Dictionary<string, OrganizationRole>();
        var credentials = tab == "credentials" ? await services.GetRequiredService<IRegistryCredentialStore>().ListAsync(user.Name, ct) : [];
        return new SettingsModel(tab, user, tokens, orgs, credentials, created, error);
    }

    private static async Task<IResult> Again(HttpContext context, string tab, string error, int status, CancellationToken ct)
    {
        var model = await ModelAsync(context, tab, null, error, ct);
        return model is null ? WebUi.SignInFirst(context) : WebUi.Page<SettingsPage>(PageShell.For(context, "Settings", "settings"), model, status);
    }

    private static int Status(AccountError error) => error.Kind switch
    {
        AccountErrorKind.NotFound => StatusCodes.Status404NotFound,
        AccountErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        AccountErrorKind.Conflict => StatusCodes.Status409Conflict,
        AccountErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status400BadRequest,
    };

    private static async Task<IResult> ChangePasswordAsync(HttpContext context, CancellationToken ct)
    {
        if (context.User.Username() is not { } name || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        var result = await accounts.ChangePasswordAsync(AccountsApi.Origin(context), form["current_password"], form["new_password"], ct);
        if (!result.IsOk) return await Again(context, "account", result.Error!.Message, Status(result.Error), ct);
        // The new password changes the session stamp: every other session ends; this one gets a fresh cookie.
        var user = await accounts.FindUserAsync(name, ct);
        if (user is not null) await WebSession.SignInAsync(context, user);
        return WebUi.RedirectWith(context, "/settings", "Password changed. Your other sessions have been signed out.");
    }

    private static async Task<IResult> CreateTokenAsync(HttpContext context, CancellationToken ct)
    {
        if (context.User.Username() is null || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        int? days = null;
        if (form["expires_in_days"].ToString() is { Length: > 0 } daysText)
        {
            if (!int.TryParse(daysText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)) return await Again(context, "tokens", "Expiry is a number of days.", StatusCodes.Status400BadRequest, ct);
            days = parsed;
        }
        var scopes = form["scopes"].Select(s => (string?)s).ToList();
        var result = await accounts.CreateAccessTokenAsync(AccountsApi.Origin(context), form["name"].ToString().Trim(), scopes, null, days, ct);
        if (!result.IsOk) return await Again(context, "tokens", result.Error!.Message, Status(result.Error), ct);
        // Rendered in the answer to the post, never redirected: the secret must not travel in a URL or a cookie.
        var model = await ModelAsync(context, "tokens", result.Value, null, ct);
        return WebUi.Page<SettingsPage>(PageShell.For(context, "Settings", "settings"), model!);
    }

    private static async Task<IResult> RevokeTokenAsync(HttpContext context, string id, CancellationToken ct)
    {
        if (context.User.Username() is null || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var tokenId)) return WebUi.NotFound(context);
        var result = await accounts.RevokeAccessTokenAsync(AccountsApi.Origin(context), tokenId, ct);
        if (!result.IsOk) return await Again(context, "tokens", result.Error!.Message, Status(result.Error), ct);
        return WebUi.RedirectWith(context, "/settings?tab=tokens", "Token revoked.");
    }

    private static async Task<IResult> CreateOrganizationAsync(HttpContext context, CancellationToken ct)
    {
        if (context.User.Username() is null || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        var result = await accounts.CreateOrganizationAsync(AccountsApi.Origin(context), form["name"].ToString().Trim(), ct);
        if (!result.IsOk) return await Again(context, "orgs", result.Error!.Message, Status(result.Error), ct);
        var name = result.Value!.Organization.Name;
        return WebUi.RedirectWith(context, $"/settings/orgs/{Uri.EscapeDataString(name)}", $"Created the organization {name}.");
    }

    private static async Task<IResult> OrganizationAsync(HttpContext context, string org, CancellationToken ct) =>
        await OrganizationPageAsync(context, org, null, StatusCodes.Status200OK, ct);

    private static async Task<IResult> OrganizationPageAsync(HttpContext context, string org, string? error, int status, CancellationToken ct)
    {
        if (context.User.Username() is not { } name || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var found = await accounts.GetOrganizationAsync(AccountsApi.Origin(context), org, ct);
        if (!found.IsOk) return WebUi.NotFound(context);
        var isOwner = context.User.IsAdministrating() || found.Value!.Members.Any(m => m.Username == name && m.Role == OrganizationRole.Owner);
        return WebUi.Page<OrganizationPage>(PageShell.For(context, org, "settings"), new OrganizationModel(found.Value!, isOwner, error), status);
    }

    private static async Task<IResult> SetMemberAsync(HttpContext context, string org, CancellationToken ct)
    {
        if (context.User.Username() is null || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        var member = form["username"].ToString().Trim();
        var result = await accounts.SetMemberAsync(AccountsApi.Origin(context), org, member, form["role"], ct);
        if (!result.IsOk)
        {
            return result.Error!.Kind == AccountErrorKind.NotFound && result.Error.Message.StartsWith("No organization", StringComparison.Ordinal)
                ? WebUi.NotFound(context)
                : await OrganizationPageAsync(context, org, result.Error.Message, Status(result.Error), ct);
        }
        return WebUi.RedirectWith(context, $"/settings/orgs/{Uri.EscapeDataString(org)}", $"{member} is now {form["role"]} of {org}.");
    }

    private static async Task<IResult> RemoveMemberAsync(HttpContext context, string org, string user, CancellationToken ct)
    {
        if (context.User.Username() is null || context.RequestServices.GetService<AccountService>() is not { } accounts) return WebUi.SignInFirst(context);
        var result = await accounts.RemoveMemberAsync(AccountsApi.Origin(context), org, user, ct);
        if (!result.IsOk) return await OrganizationPageAsync(context, org, result.Error!.Message, Status(result.Error), ct);
        return WebUi.RedirectWith(context, $"/settings/orgs/{Uri.EscapeDataString(org)}", $"Removed {user} from {org}.");
    }

    private static async Task<IResult> StoreCredentialAsync(HttpContext context, IRegistryCredentialStore store, ISecretProtector protector, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return WebUi.SignInFirst(context);
        var form = await context.Request.ReadFormAsync(ct);
        var host = form["host"].ToString().Trim();
        var username = form["username"].ToString();
        var secret = form["secret"].ToString();
        if (host.Length == 0 || !Core.Builds.ImageReference.TryParse($"{host}/probe:latest", out var parsed, out _) || parsed.Registry != host)
        {
            return await Again(context, "credentials", "The registry host is a name such as registry.example.com or 127.0.0.1:5001.", StatusCodes.Status400BadRequest, ct);
        }
        if (username.Length is 0 or > 256) return await Again(context, "credentials", "A user name is required (at most 256 characters).", StatusCodes.Status400BadRequest, ct);
        if (secret.Length is 0 or > 8192) return await Again(context, "credentials", "A password or token is required (at most 8192 characters).", StatusCodes.Status400BadRequest, ct);
        await store.UpsertAsync(name, host, username, protector.Protect(secret), ct);
        return WebUi.RedirectWith(context, "/settings?tab=credentials", $"Stored the credential for {host}.");
    }

    private static async Task<IResult> DeleteCredentialAsync(HttpContext context, string id, IRegistryCredentialStore store, CancellationToken ct)
    {
        if (context.User.Username() is not { } name) return WebUi.SignInFirst(context);
        if (!Guid.TryParse(id, out var credentialId) || !await store.DeleteAsync(name, credentialId, ct)) return WebUi.NotFound(context);
        return WebUi.RedirectWith(context, "/settings?tab=credentials", "Credential deleted.");
    }
}
