using System.Globalization;
using Wharf.Core.Accounts;
using Wharf.Server.Accounts;
using Wharf.Server.Endpoints;
using Wharf.Server.Web.Components;

namespace Wharf.Server.Web;

/// <summary>
/// <c>/login</c>, <c>/signup</c> and <c>/logout</c>. Sign-in checks the password with the API's
/// <see cref="CredentialAuthenticator"/>: the same failed-login limits per user and address, the same audit records.
/// A personal access token is not accepted here: a session has the account's full power, a token only its scopes.
/// </summary>
internal static class AccountPages
{
    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/login", LoginForm);
        pages.MapPost("/login", LoginAsync);
        pages.MapGet("/signup", SignUpForm);
        pages.MapPost("/signup", SignUpAsync);
        pages.MapPost("/logout", LogoutAsync);
    }

    private static IResult LoginForm(HttpContext context, string? returnUrl) =>
        context.User.Identity?.IsAuthenticated == true
            ? TypedResults.Redirect(WebUi.LocalUrl(returnUrl))
            : WebUi.Page<LoginPage>(PageShell.For(context, "Sign in", "login"), new LoginModel(null, WebUi.LocalUrl(returnUrl), null));

    private static async Task<IResult> LoginAsync(HttpContext context, CancellationToken ct)
    {
        var form = await context.Request.ReadFormAsync(ct);
        var username = form["username"].ToString().Trim();
        var password = form["password"].ToString();
        var returnUrl = WebUi.LocalUrl(form["returnUrl"]);
        var authenticator = context.RequestServices.GetService<CredentialAuthenticator>();
        if (authenticator is null) return TypedResults.Redirect("/");
        IResult Refuse(string message, int status) =>
            WebUi.Page<LoginPage>(PageShell.For(context, "Sign in", "login"), new LoginModel(username, returnUrl, message), status);
        if (username.Length == 0 || password.Length == 0) return Refuse("Give your user name and password.", StatusCodes.Status400BadRequest);
        if (Core.Accounts.Secrets.LooksLikeAccessToken(password)) return Refuse("Sign in with your password; personal access tokens are for docker login and the API.", StatusCodes.Status400BadRequest);
        var check = await authenticator.CheckSecretAsync(username, password, WharfAuthenticationMiddleware.ClientAddress(context), ct);
        switch (check.Outcome)
        {
            case CredentialOutcome.RateLimited:
                var seconds = Math.Max(1, (int)Math.Ceiling(check.RetryAfter!.Value.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return Refuse($"Too many failed sign-ins; try again in {seconds} seconds.", StatusCodes.Status429TooManyRequests);
            case CredentialOutcome.Authenticated when check.Principal!.Method() == Caller.Password:
                var user = await context.RequestServices.GetRequiredService<AccountService>().FindUserAsync(username, ct);
                if (user is null) return Refuse("Wrong user name or password.", StatusCodes.Status401Unauthorized);
                await WebSession.SignInAsync(context, user);
                return TypedResults.Redirect(returnUrl);
            default:
                return Refuse("Wrong user name or password.", StatusCodes.Status401Unauthorized);
        }
    }

    private static IResult SignUpForm(HttpContext context) =>
        context.User.Identity?.IsAuthenticated == true
            ? TypedResults.Redirect("/")
            : WebUi.Page<SignUpPage>(PageShell.For(context, "Sign up", "signup"), new SignUpModel(null, null, null, null));

    private static async Task<IResult> SignUpAsync(HttpContext context, CancellationToken ct)
    {
        var accounts = context.RequestServices.GetService<AccountService>();
        if (accounts is null) return TypedResults.Redirect("/");
        var form = await context.Request.ReadFormAsync(ct);
        var username = form["username"].ToString().Trim();
        var email = form["email"].ToString().Trim();
        var result = await accounts.SignUpAsync(AccountsApi.Origin(context), username, form["password"].ToString(), email, ct);
        if (!result.IsOk)
        {
            var status = result.Error!.Kind switch
            {
                AccountErrorKind.Conflict => StatusCodes.Status409Conflict,
                AccountErrorKind.Forbidden => StatusCodes.Status403Forbidden,
                _ => StatusCodes.Status400BadRequest,
            };
            return WebUi.Page<SignUpPage>(PageShell.For(context, "Sign up", "signup"), new SignUpModel(username, email, result.Error.Message, result.Error.Field), status);
        }
        await WebSession.SignInAsync(context, result.Value!);
        return WebUi.RedirectWith(context, $"/u/{Uri.EscapeDataString(result.Value!.Name)}", $"Welcome, {result.Value.Name}. Your namespace is {result.Value.Name}.");
    }

    private static async Task<IResult> LogoutAsync(HttpContext context, CancellationToken ct)
    {
        await WebSession.SignOutAsync(context);
        return WebUi.RedirectWith(context, "/", "Signed out.");
    }
}
