using Microsoft.AspNetCore.Authentication;

namespace Wharf.Server.Accounts;

/// <summary>
/// ASP.NET Core's authentication services with a default scheme that authenticates nobody. Left alone, the framework
/// makes a single registered scheme (the web UI's cookie) the default, and the authentication middleware it adds to
/// every app would then sign in each request that carries the cookie, on <c>/v2</c> and on every <c>/api</c> write too.
/// Wharf's credentials are checked by <see cref="WharfAuthenticationMiddleware"/>; a scheme counts only where code asks
/// for it by name (the cookie: web pages and safe REST reads).
/// </summary>
public static class NoDefaultAuthentication
{
    public const string Scheme = "wharf.none";

    public static AuthenticationBuilder AddWharfAuthentication(this IServiceCollection services) =>
        services.AddAuthentication(options =>
        {
            options.AddScheme<NobodyHandler>(Scheme, null);
            options.DefaultScheme = Scheme;
        });

    /// <summary>Authenticates nobody; a challenge is a bare 401 and a refusal a bare 403 (each surface writes its own errors).</summary>
    private sealed class NobodyHandler : IAuthenticationHandler
    {
        private HttpContext? _context;

        public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
        {
            _context = context;
            return Task.CompletedTask;
        }

        public Task<AuthenticateResult> AuthenticateAsync() => Task.FromResult(AuthenticateResult.NoResult());

        public Task ChallengeAsync(AuthenticationProperties? properties)
        {
            if (_context is { Response.HasStarted: false }) _context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        }

        public Task ForbidAsync(AuthenticationProperties? properties)
        {
            if (_context is { Response.HasStarted: false }) _context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }
    }
}
