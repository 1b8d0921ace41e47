using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Components;
using Wharf.Core.Accounts;
using Wharf.Core.Repositories;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// The web UI: server-rendered pages (Razor components rendered by minimal API handlers, so each handler decides
/// status codes, redirects and cookies before anything is written), the cookie session, antiforgery on every form
/// and the embedded assets. Pages call the same Core services as <c>/api/v1</c>, with the same caller.
/// </summary>
public static class WebUi
{
    public const string AntiforgeryField = "__csrf";
    public const string AntiforgeryHeader = "X-CSRF-Token";
    private const string FlashCookie = "wharf_flash";

    private static readonly string[] PagePrefixes = ["/search", "/r", "/u", "/builds", "/login", "/logout", "/signup", "/settings", "/admin", "/new"];

    public static IServiceCollection AddWharfWebUi(this IServiceCollection services)
    {
        services.AddRazorComponents();
        services.AddSingleton<WebAssets>();
        services.AddSingleton<ImageInspector>();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "wharf_csrf";
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.HttpOnly = true;
            options.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            options.FormFieldName = AntiforgeryField;
            options.HeaderName = AntiforgeryHeader;
        });
        services.AddAuthentication().AddCookie(WebSession.Scheme, WebSession.Configure);
        return services;
    }

    /// <summary>The cookie session (accounts mode only), after the <c>Authorization</c> header middleware.</summary>
    public static IApplicationBuilder UseWharfWebSessions(this IApplicationBuilder app)
    {
        if (app.ApplicationServices.GetService<AuthOptions>()?.Mode == AuthMode.Open) return app;
        return app.UseMiddleware<WebSessionMiddleware>();
    }

    /// <summary>Whether a path belongs to the web UI (the cookie session applies to it).</summary>
    public static bool IsPagePath(PathString path)
    {
        if (path == "/" || path.StartsWithSegments(WebAssets.Prefix)) return true;
        foreach (var prefix in PagePrefixes)
        {
            if (path.StartsWithSegments(prefix)) return true;
        }
        return false;
    }

    public static IEndpointRouteBuilder MapWebUi(this IEndpointRouteBuilder app)
    {
        app.ServiceProvider.GetRequiredService<WebAssets>().Map(app);
        var pages = app.MapGroup("").ExcludeFromDescription().AddEndpointFilter(PageFilterAsync);
        BrowsePages.Map(pages);
        RepositoryPages.Map(pages);
        AccountPages.Map(pages);
        SettingsPages.Map(pages);
        BuildPages.Map(pages);
        AdminPages.Map(pages);
        return app;
    }

    /// <summary>
    /// Every page: security headers (a script policy that allows only Wharf's own script; antiforgery makes every page
    /// <c>no-store</c>), and the antiforgery check on every form post (the build form checks its token
    /// itself, after streaming its upload: see <see cref="BuildPages"/>).
    /// </summary>
    private static async ValueTask<object?> PageFilterAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        headers.XFrameOptions = "DENY";
        if (HttpMethods.IsPost(context.Request.Method) && context.GetEndpoint()?.Metadata.GetMetadata<ValidatesOwnAntiforgery>() is null)
        {
            if (!await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context))
            {
                return FormRefused(context);
            }
        }
        return await next(invocation);
    }

    /// <summary>Marks a form endpoint that validates its antiforgery token itself (multipart uploads).</summary>
    public sealed class ValidatesOwnAntiforgery;

    public static IResult FormRefused(HttpContext context) =>
        Page<ErrorPage>(PageShell.For(context, "Form refused"), new ErrorModel(400, "This form was refused",
            "It did not carry a valid security token: it may have expired, or it was not sent from a Wharf page. Go back, reload the page and try again."),
            StatusCodes.Status400BadRequest);

    /// <summary>Renders a page component with its shell and model.</summary>
    public static IResult Page<TPage>(PageShell shell, object model, int statusCode = StatusCodes.Status200OK) where TPage : IComponent =>
        new RazorComponentResult<TPage>(new Dictionary<string, object?> { ["Shell"] = shell, ["Model"] = model }) { StatusCode = statusCode };

    /// <summary>The 404 page: also what a private repository looks like to those who may not pull it.</summary>
    public static IResult NotFound(HttpContext context, string? what = null) =>
        Page<ErrorPage>(PageShell.For(context, "Not found"), new ErrorModel(404, "Page not found",
            what ?? "There is nothing here, or you may not see it."), StatusCodes.Status404NotFound);

    /// <summary>A signed-out visitor on a page that needs an account: the sign-in page, then back here.</summary>
    public static IResult SignInFirst(HttpContext context) =>
        TypedResults.Redirect("/login?returnUrl=" + Uri.EscapeDataString(context.Request.Path + context.Request.QueryString));

    /// <summary>Redirects after a form post, with a message shown once on the next page.</summary>
    public static IResult RedirectWith(HttpContext context, string url, string? message, bool isError = false)
    {
        if (message is not null)
        {
            context.Response.Cookies.Append(FlashCookie, (isError ? "!" : "") + Uri.EscapeDataString(message), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                Secure = context.Request.IsHttps,
                Path = "/",
                MaxAge = TimeSpan.FromMinutes(1),
            });
        }
        return TypedResults.Redirect(LocalUrl(url));
    }

    internal static (string? Message, bool IsError) TakeFlash(HttpContext context)
    {
        if (!context.Request.Cookies.TryGetValue(FlashCookie, out var value) || string.IsNullOrEmpty(value)) return (null, false);
        if (!context.Response.HasStarted) context.Response.Cookies.Delete(FlashCookie, new CookieOptions { Path = "/" });
        var isError = value.StartsWith('!');
        var text = Uri.UnescapeDataString(isError ? value[1..] : value);
        return (text.Length > 500 ? text[..500] : text, isError);
    }

    /// <summary>A same-site path for redirects (a <c>returnUrl</c> never sends anyone elsewhere).</summary>
    public static string LocalUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            && !url.Any(char.IsControl)
            ? url
            : "/";
}
