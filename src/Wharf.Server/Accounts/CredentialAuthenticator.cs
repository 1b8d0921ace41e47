using System.Globalization;
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

    /// <summary>The credential is right, but an administrator disabled the account.</summary>
    Disabled,
}

/// <summary>The result of checking a request's <c>Authorization</c> header or a sign-in form.</summary>
public readonly record struct CredentialCheck(CredentialOutcome Outcome, ClaimsPrincipal? Principal = null, TimeSpan? RetryAfter = null, bool WasBearer = false);

/// <summary>
/// Turns <c>Basic user:password|personal-access-token|refresh-token|internal-credential</c> and
/// <c>Bearer registry-token|personal-access-token|refresh-token</c> into a <see cref="ClaimsPrincipal"/> with
/// <see cref="WharfClaims"/>, and is the one place credentials are checked: the web sign-in form uses
/// <see cref="SignInAsync"/> and gets the same failed-login limits (<see cref="LoginRateLimiter"/>).
/// A verified Basic credential is cached briefly (keyed by its hash) so clients that send Basic on every request do not
/// pay PBKDF2 each time. Failures are audited while under the limits; sign-ins are audited where they happen (the token
/// endpoint, <see cref="SignInAsync"/>), not on every request.
/// </summary>
public sealed partial class CredentialAuthenticator(
    AccountService accounts,
    SessionService sessions,
    RegistryTokenService tokens,
    LoginRateLimiter limiter,
    AccountStatus status,
    IAuditLog audit,
    CredentialChanges changes,
    AuthOptions options,
    TimeProvider time,
    WharfMetrics metrics,
    ILogger<CredentialAuthenticator> logger)
{
    private readonly ExpiringCache<string, (ClaimsPrincipal Principal, long Generation)> _basicCache = new(time);

    /// <param name="registryTokensAllowed">Whether a bearer value is a registry token (<c>/v2/</c>, where only those are bearer tokens) rather than a personal access token or refresh token.</param>
    public async ValueTask<CredentialCheck> CheckAsync(string? authorization, string? clientAddress, bool registryTokensAllowed, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(authorization)) return new CredentialCheck(CredentialOutcome.None);
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization[7..].Trim();
            if (!registryTokensAllowed && (Secrets.LooksLikeAccessToken(token) || Secrets.LooksLikeRefreshToken(token)))
            {
                // A personal access token or a session as a bearer token (the REST API): the user name comes from the token.
                return await CheckSecretAsync(null, token, clientAddress, cancellationToken) with { WasBearer = true };
            }
            var principal = tokens.Verify(token);
            if (principal is null) return new CredentialCheck(CredentialOutcome.Invalid, WasBearer: true);
            // Verified without the database; still, a password change or a disabled account ends it (cached state).
            if (!await status.IsCurrentAsync(principal, cancellationToken)) return new CredentialCheck(CredentialOutcome.Invalid, WasBearer: true);
            return new CredentialCheck(CredentialOutcome.Authenticated, principal, WasBearer: true);
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
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) return new CredentialCheck(CredentialOutcome.Invalid);
            return await CheckSecretAsync(decoded[..colon], decoded[(colon + 1)..], clientAddress, cancellationToken);
        }
        return new CredentialCheck(CredentialOutcome.Invalid);
    }

    /// <summary>
    /// A person signs in with a user name and password (or personal access token) through a form: the same checks and
    /// limits as Basic auth, and an audited login when it succeeds. <paramref name="via"/> names the surface ("web").
    /// </summary>
    public async ValueTask<CredentialCheck> SignInAsync(string username, string secret, string? clientAddress, string via, CancellationToken cancellationToken)
    {
        var check = await CheckSecretAsync(username, secret, clientAddress, cancellationToken);
        if (check.Outcome == CredentialOutcome.Authenticated && check.Principal is { } principal)
        {
            await accounts.RecordLoginAsync(new RequestOrigin(principal, clientAddress), $"{via}, {principal.Method()}", cancellationToken);
        }
        return check;
    }

    /// <summary>
    /// Checks a user name (null: take it from the token) with a password, personal access token, refresh token or
    /// internal credential, within the failed-login limits.
    /// </summary>
    public async ValueTask<CredentialCheck> CheckSecretAsync(string? username, string secret, string? clientAddress, CancellationToken cancellationToken)
    {
        var cacheKey = Secrets.Hash((username ?? "") + "\n" + secret);
        if (_basicCache.TryGet(cacheKey, out var cached) && cached.Generation == changes.Generation)
        {
            return new CredentialCheck(CredentialOutcome.Authenticated, cached.Principal);
        }

        if (limiter.RetryAfter(username, clientAddress) is not null)
        {
            // Waiting: unless an administrator unlocked the user since (on another node, maybe).
            var unlockedAt = username is null ? null : (await status.GetAsync(username, cancellationToken))?.LoginsUnlockedAt;
            if (limiter.RetryAfter(username, clientAddress, unlockedAt) is { } wait)
            {
                metrics.LoginFailed(LoginFailure.RateLimited);
                LogRateLimited(logger, username ?? "(access token)", clientAddress ?? "unknown", (int)Math.Ceiling(wait.TotalSeconds));
                return new CredentialCheck(CredentialOutcome.RateLimited, RetryAfter: wait);
            }
        }

        // An internal credential: a signed token limited to one repository (the build worker's pushes).
        if (username is not null && secret.Count(c => c == '.') == 2 && tokens.Verify(secret, internalOnly: true) is { } internalPrincipal)
        {
            if (internalPrincipal.Username() != username || !await status.IsCurrentAsync(internalPrincipal, cancellationToken))
            {
                return await FailAsync(username, clientAddress, cancellationToken);
            }
            return new CredentialCheck(CredentialOutcome.Authenticated, internalPrincipal);
        }

        AuthenticatedUser? user;
        if (Secrets.LooksLikeRefreshToken(secret))
        {
            user = await sessions.AuthenticateAsync(secret, cancellationToken);
            if (user is not null && username is not null && user.User.Name != username) user = null;
        }
        else if (username is null)
        {
            user = await accounts.AuthenticateAccessTokenAsync(secret, cancellationToken);
        }
        else
        {
            user = await accounts.AuthenticateAsync(username, secret, cancellationToken);
        }
        if (user is null) return await FailAsync(username, clientAddress, cancellationToken);
        if (user.User.IsDisabled) return new CredentialCheck(CredentialOutcome.Disabled);

        var generation = changes.Generation;
        var principal = ToPrincipal(user);
        _basicCache.Set(cacheKey, (principal, generation), options.CredentialCacheTtl);
        return new CredentialCheck(CredentialOutcome.Authenticated, principal);
    }

    private async ValueTask<CredentialCheck> FailAsync(string? username, string? clientAddress, CancellationToken cancellationToken)
    {
        var unlockedAt = username is null ? null : (await status.GetAsync(username, cancellationToken))?.LoginsUnlockedAt;
        var failed = limiter.RecordFailure(username, clientAddress, unlockedAt);
        metrics.LoginFailed(LoginFailure.InvalidCredentials);
        LogLoginFailed(logger, username ?? "(access token)", clientAddress ?? "unknown");
        if (failed.Delay > TimeSpan.Zero)
        {
            // The address or the name keeps failing: hold this (failing) answer back, and say when to come back. Not
            // audited one by one: the record that the limit was reached stands for the rest.
            await Task.Delay(failed.Delay, time, cancellationToken);
            return new CredentialCheck(CredentialOutcome.RateLimited, RetryAfter: failed.RetryAfter);
        }
        await audit.AppendAsync(new AuditEntry(username, clientAddress, AuditActions.Login, username, Success: false), cancellationToken);
        if (failed.LimitReached)
        {
            await audit.AppendAsync(new AuditEntry(username, clientAddress, AuditActions.LoginLimited, username, Success: false,
                Detail: $"{options.MaxFailedLogins} failed logins within {options.FailedLoginWindow}"), cancellationToken);
        }
        return new CredentialCheck(CredentialOutcome.Invalid);
    }

    /// <summary>
    /// The principal of a checked credential: user name, method, administrator flag, credential version, scopes (of a
    /// token or session) and the ids of the personal access token and session. A cookie sign-in stores these claims.
    /// </summary>
    public static ClaimsPrincipal ToPrincipal(AuthenticatedUser user)
    {
        var claims = new List<Claim>
        {
            new(WharfClaims.Subject, user.User.Name),
            new(WharfClaims.AuthMethod, user.Method),
            new(WharfClaims.CredentialVersion, user.User.CredentialVersion.ToString(CultureInfo.InvariantCulture)),
        };
        if (user.User.IsAdmin) claims.Add(new Claim(WharfClaims.Admin, "true"));
        if (user.Method is Caller.AccessToken or Caller.RefreshToken)
        {
            foreach (var scope in AccountText.Format(user.Scopes)) claims.Add(new Claim(WharfClaims.TokenScope, scope));
        }
        if (user.AccessTokenId is { } tokenId) claims.Add(new Claim(WharfClaims.AccessTokenId, tokenId.ToString(CultureInfo.InvariantCulture)));
        if (user.SessionId is { } sessionId) claims.Add(new Claim(WharfClaims.SessionId, sessionId.ToString(CultureInfo.InvariantCulture)));
        var authenticationType = user.Method switch
        {
            Caller.AccessToken => "AccessToken",
            Caller.RefreshToken => "RefreshToken",
            _ => "Password",
        };
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, WharfClaims.Subject, null));
    }

    // The secret itself is never a parameter: only who tried, and from where.
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Login failed for {User} from {ClientAddress}")]
    private static partial void LogLoginFailed(ILogger logger, string user, string clientAddress);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Login refused for {User} from {ClientAddress}: too many failures, retry in {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string user, string clientAddress, int retryAfterSeconds);
}
