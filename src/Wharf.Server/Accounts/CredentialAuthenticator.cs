using System.Security.Claims;
using System.Text;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Telemetry;

namespace Wharf.Server.Accounts;

public enum CredentialOutcome
{
    /// <summary>No credential was presented.</summary>
    None,
    Authenticated,
    Invalid,
    RateLimited,
}

/// <summary>The result of checking a request's <c>Authorization</c> header.</summary>
public readonly record struct CredentialCheck(CredentialOutcome Outcome, ClaimsPrincipal? Principal = null, TimeSpan? RetryAfter = null, bool WasBearer = false);

/// <summary>
/// Turns <c>Basic user:password|personal-access-token|internal-credential</c> and <c>Bearer jwt|personal-access-token</c>
/// into a <see cref="ClaimsPrincipal"/> with <see cref="WharfClaims"/>. Failed logins are rate-limited per user and
/// client address; a verified Basic credential is cached briefly (keyed by its hash) so clients that send Basic on
/// every request do not pay PBKDF2 each time. Logins and failures are audited (not cache hits).
/// </summary>
public sealed partial class CredentialAuthenticator(
    AccountService accounts,
    RegistryTokenService tokens,
    LoginRateLimiter limiter,
    IAuditLog audit,
    CredentialChanges changes,
    AuthOptions options,
    TimeProvider time,
    WharfMetrics metrics,
    ILogger<CredentialAuthenticator> logger)
{
    private readonly ExpiringCache<string, (ClaimsPrincipal Principal, long Generation)> _basicCache = new(time);

    public async ValueTask<CredentialCheck> CheckAsync(string? authorization, string? clientAddress, bool bearerAllowsAccessToken, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(authorization)) return new CredentialCheck(CredentialOutcome.None);
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization[7..].Trim();
            if (bearerAllowsAccessToken && Secrets.LooksLikeAccessToken(token))
            {
                // A personal access token as a bearer token (the REST API): the user name comes from the token.
                return await CheckSecretAsync(null, token, clientAddress, cancellationToken) with { WasBearer = true };
            }
            var principal = tokens.Verify(token);
            return principal is null
                ? new CredentialCheck(CredentialOutcome.Invalid, WasBearer: true)
                : new CredentialCheck(CredentialOutcome.Authenticated, principal, WasBearer: true);
        }
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            }
            catch (FormatException)
            {
                return new CredentialCheck(CredentialOutcome.Invalid);
            }
            var colon = decoded.IndexOf(':');
            if (colon <= 0) return new CredentialCheck(CredentialOutcome.Invalid);
            return await CheckSecretAsync(decoded[..colon], decoded[(colon + 1)..], clientAddress, cancellationToken);
        }
        return new CredentialCheck(CredentialOutcome.Invalid);
    }

    /// <summary>Checks a user name (null: take it from the personal access token) with a password, personal access token or internal credential.</summary>
    public async ValueTask<CredentialCheck> CheckSecretAsync(string? username, string secret, string? clientAddress, CancellationToken cancellationToken)
    {
        var cacheKey = Secrets.Hash((username ?? "") + "\n" + secret);
        if (_basicCache.TryGet(cacheKey, out var cached) && cached.Generation == changes.Generation)
        {
            return new CredentialCheck(CredentialOutcome.Authenticated, cached.Principal);
        }

        if (limiter.RetryAfter(username, clientAddress) is { } wait)
        {
            metrics.LoginFailed(LoginFailure.RateLimited);
            LogRateLimited(logger, username ?? "(access token)", clientAddress ?? "unknown", (int)Math.Ceiling(wait.TotalSeconds));
            return new CredentialCheck(CredentialOutcome.RateLimited, RetryAfter: wait);
        }

        // An internal credential: a signed token limited to one repository (the build worker's pushes).
        if (username is not null && secret.Count(c => c == '.') == 2 && tokens.Verify(secret, internalOnly: true) is { } internalPrincipal)
        {
            if (internalPrincipal.Username() != username) return await FailAsync(username, clientAddress, cancellationToken);
            return new CredentialCheck(CredentialOutcome.Authenticated, internalPrincipal);
        }

        var name = username;
        if (name is null)
        {
            // Bearer personal access token: find its owner first.
            var owner = await accounts.AuthenticateAccessTokenAsync(secret, cancellationToken);
            if (owner is null) return await FailAsync(null, clientAddress, cancellationToken);
            return await SucceedAsync(cacheKey, owner, clientAddress, cancellationToken);
        }
        var user = await accounts.AuthenticateAsync(name, secret, cancellationToken);
        if (user is null) return await FailAsync(name, clientAddress, cancellationToken);
        return await SucceedAsync(cacheKey, user, clientAddress, cancellationToken);
    }

    private async ValueTask<CredentialCheck> SucceedAsync(string cacheKey, AuthenticatedUser user, string? clientAddress, CancellationToken cancellationToken)
    {
        var generation = changes.Generation;
        var principal = ToPrincipal(user);
        _basicCache.Set(cacheKey, (principal, generation), options.CredentialCacheTtl);
        await audit.AppendAsync(new AuditEntry(user.User.Name, clientAddress, AuditActions.Login, user.User.Name, Detail: user.Method), cancellationToken);
        return new CredentialCheck(CredentialOutcome.Authenticated, principal);
    }

    private async ValueTask<CredentialCheck> FailAsync(string? username, string? clientAddress, CancellationToken cancellationToken)
    {
        limiter.RecordFailure(username, clientAddress);
        metrics.LoginFailed(LoginFailure.InvalidCredentials);
        LogLoginFailed(logger, username ?? "(access token)", clientAddress ?? "unknown");
        await audit.AppendAsync(new AuditEntry(username, clientAddress, AuditActions.Login, username, Success: false), cancellationToken);
        return new CredentialCheck(CredentialOutcome.Invalid);
    }

    public static ClaimsPrincipal ToPrincipal(AuthenticatedUser user)
    {
        var claims = new List<Claim>
        {
            new(WharfClaims.Subject, user.User.Name),
            new(WharfClaims.AuthMethod, user.Method),
        };
        if (user.User.IsAdmin) claims.Add(new Claim(WharfClaims.Admin, "true"));
        if (user.Method == Caller.AccessToken)
        {
            foreach (var scope in AccountText.Format(user.Scopes)) claims.Add(new Claim(WharfClaims.TokenScope, scope));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, user.Method == Caller.AccessToken ? "AccessToken" : "Password", WharfClaims.Subject, null));
    }

    // The secret itself is never a parameter: only who tried, and from where.
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Login failed for {User} from {ClientAddress}")]
    private static partial void LogLoginFailed(ILogger logger, string user, string clientAddress);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Login refused for {User} from {ClientAddress}: too many failures, retry in {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string user, string clientAddress, int retryAfterSeconds);
}
