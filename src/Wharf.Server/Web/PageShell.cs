using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Wharf.Core.Access;
using Wharf.Core.Accounts;

namespace Wharf.Server.Web;

/// <summary>What the layout of every page needs: the viewer, the antiforgery token for its forms, a message.</summary>
public sealed class PageShell
{
    public required string Title { get; init; }

    /// <summary>The signed-in user's name, or null for an anonymous visitor (and in open mode).</summary>
    public string? Username { get; init; }

    public bool IsAdmin { get; init; }

    /// <summary>False in open mode: no accounts, no sign-in.</summary>
    public bool AccountsMode { get; init; }

    public bool SignUpOpen { get; init; }

    /// <summary>The antiforgery request token every form posts back as <see cref="WebUi.AntiforgeryField"/>.</summary>
    public required string Antiforgery { get; init; }

    /// <summary>A message from the previous request (after a redirect), and whether it reports an error.</summary>
    public string? Flash { get; init; }

    public bool FlashIsError { get; init; }

    /// <summary>The search words, kept in the header's box.</summary>
    public string? Query { get; init; }

    /// <summary>The current path and query, for "sign in to continue" links.</summary>
    public required string ReturnUrl { get; init; }

    /// <summary>The registry host as clients name it (<c>localhost:5000</c>), for pull commands.</summary>
    public required string RegistryHost { get; init; }

    /// <summary>Which header link is the current section (<c>explore</c>, <c>builds</c>, <c>settings</c>, <c>admin</c>).</summary>
    public string? Section { get; init; }

    public required WebAssets Assets { get; init; }

    public bool SignedIn => Username is not null;

    public ClaimsPrincipal? Caller { get; init; }

    public static PageShell For(HttpContext context, string title, string? section = null, string? query = null)
    {
        var services = context.RequestServices;
        var auth = services.GetService<AuthOptions>();
        var accounts = auth?.Mode != AuthMode.Open;
        var tokens = services.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context);
        var (flash, isError) = WebUi.TakeFlash(context);
        return new PageShell
        {
            Title = title,
            Username = context.User.Username(),
            IsAdmin = context.User.IsAdmin(),
            AccountsMode = accounts,
            SignUpOpen = accounts && auth?.SignUp == SignUpMode.Open,
            Antiforgery = tokens.RequestToken ?? "",
            Flash = flash,
            FlashIsError = isError,
            Query = query,
            ReturnUrl = context.Request.Path + context.Request.QueryString,
            RegistryHost = context.Request.Host.HasValue ? context.Request.Host.Value! : "localhost:5000",
            Section = section,
            Assets = services.GetRequiredService<WebAssets>(),
            Caller = context.User,
        };
    }
}
