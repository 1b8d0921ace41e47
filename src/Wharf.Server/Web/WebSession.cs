using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Accounts;

namespace Wharf.Server.Web;

/// <summary>
/// The web UI's cookie session (accounts mode). Sign-in checks the password through <see cref="CredentialAuthenticator"/>
/// (the API's failed-login limits and login audit), then issues an encrypted, <c>HttpOnly</c>, <c>SameSite=Lax</c>
/// cookie that is <c>Secure</c> whenever the request came over TLS (directly, or through a known proxy once forwarded
/// headers are applied). The cookie carries a stamp derived from the user's password hash: a password change (through
/// the UI or the API) changes the hash, so every other session of that user ends at its next request.
/// </summary>
public static class WebSession
{
    public const string Scheme = "wharf.session";
    public const string CookieName = "wharf_session";
    private const string StampClaim = "wharf:session_stamp";

    public static void Configure(CookieAuthenticationOptions options)
    {
        options.Cookie.Name = CookieName;
        options.Cookie.HttpOnly = true;
        options.Cookie.SameSite = SameSiteMode.Lax;
        options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        options.Cookie.Path = "/";
        options.ExpireTimeSpan = TimeSpan.FromDays(14);
        options.SlidingExpiration = true;
        options.LoginPath = "/login";
        options.LogoutPath = "/logout";
        options.Events.OnValidatePrincipal = ValidateAsync;
        // Pages decide what an anonymous visitor sees; the handler never redirects on its own.
        options.Events.OnRedirectToLogin = context => { context.Response.StatusCode = StatusCodes.Status401Unauthorized; return Task.CompletedTask; };
        options.Events.OnRedirectToAccessDenied = context => { context.Response.StatusCode = StatusCodes.Status403Forbidden; return Task.CompletedTask; };
    }

    /// <summary>Signs the user in with a fresh cookie (also after a password change, so this session survives it).</summary>
    public static Task SignInAsync(HttpContext context, UserAccount user)
    {
        var principal = CredentialAuthenticator.ToPrincipal(new AuthenticatedUser(user, Caller.Password, TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin));
        ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim(StampClaim, Stamp(user)));
        context.User = principal;
        return context.SignInAsync(Scheme, principal, new AuthenticationProperties { IsPersistent = true, AllowRefresh = true });
    }

    public static Task SignOutAsync(HttpContext context) => context.SignOutAsync(Scheme);

    /// <summary>The session's user, when the cookie is valid; only asked for requests without an <c>Authorization</c> header.</summary>
    public static async Task<ClaimsPrincipal?> AuthenticateAsync(HttpContext context)
    {
        var result = await context.AuthenticateAsync(Scheme);
        return result.Succeeded ? result.Principal : null;
    }

    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var accounts = context.HttpContext.RequestServices.GetRequiredService<AccountService>();
        var name = context.Principal?.FindFirst(WharfClaims.Subject)?.Value;
        var stamp = context.Principal?.FindFirst(StampClaim)?.Value;
        var user = name is null ? null : await accounts.FindUserAsync(name, context.HttpContext.RequestAborted);
        if (user is null || stamp is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stamp), Encoding.ASCII.GetBytes(Stamp(user))))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
            return;
        }
        if (user.IsAdmin != context.Principal!.IsAdmin())
        {
            // Made (or no longer) an administrator since signing in: the session follows at once.
            var principal = CredentialAuthenticator.ToPrincipal(new AuthenticatedUser(user, Caller.Password, TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin));
            ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim(StampClaim, stamp));
            context.ReplacePrincipal(principal);
            context.ShouldRenew = true;
        }
    }

    /// <summary>A value that changes whenever the user's password does (the hash is salted: a new password, a new hash).</summary>
    internal static string Stamp(UserAccount user)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"wharf-web-session\n{user.Id}\n{user.PasswordHash}"));
        return Convert.ToBase64String(hash, 0, 18);
    }
}

/// <summary>
/// Gives requests without an <c>Authorization</c> header the cookie session's user: web pages (any method; their
/// forms carry antiforgery tokens) and safe <c>GET</c>/<c>HEAD</c> requests under <c>/api</c> (the pages' scripts
/// read build logs and search that way). The registry and token endpoints never look at the cookie.
/// </summary>
public sealed class WebSessionMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (context.User.Identity?.IsAuthenticated != true
            && context.Request.Headers.Authorization.Count == 0
            && context.Request.Cookies.ContainsKey(WebSession.CookieName)
            && (WebUi.IsPagePath(path)
                || (path.StartsWithSegments("/api") && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))))
        {
            if (await WebSession.AuthenticateAsync(context) is { } principal) context.User = principal;
        }
        await next(context);
    }
}
