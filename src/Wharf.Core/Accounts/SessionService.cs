using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>
/// Refresh tokens: the sessions of clients that logged in for good (<c>docker login</c>, which stores the token as its
/// identity token, and <c>wharf login</c>). A refresh token remembers the credential that made it: it grants at most
/// that credential's scopes, and it ends when that personal access token is revoked or expires, when the password
/// changes, when the user is disabled or deleted, or when its owner revokes it.
/// </summary>
public sealed class SessionService(IAccountStore store, IAuditLog audit, AccountService accounts, AuthOptions options, TimeProvider time)
{
    public const int MaxClientIdLength = 256;

    /// <summary>
    /// A refresh token for the credential <paramref name="credential"/> just proved (a password or a personal access
    /// token; null for anything else: a session never makes another). Issued under the credential version the principal
    /// carries, so a credential that was already stale makes a session that is dead at once.
    /// </summary>
    public async Task<string?> IssueAsync(ClaimsPrincipal credential, string clientId, string? clientAddress, CancellationToken cancellationToken)
    {
        if (credential.Method() is not (Caller.Password or Caller.AccessToken) || credential.Username() is not { } username) return null;
        var user = await store.FindUserAsync(username, cancellationToken);
        if (user is null || user.IsDisabled) return null;
        var secret = Secrets.NewRefreshToken();
        var scopes = credential.Scopes();
        await store.StoreRefreshTokenAsync(new NewRefreshToken(Secrets.Hash(secret), user.Id, credential.AccessTokenId(), scopes, credential.CredentialVersion(),
            clientId.Length > MaxClientIdLength ? clientId[..MaxClientIdLength] : clientId, clientAddress, time.GetUtcNow() + options.RefreshTokenLifetime),
            options.MaxSessionsPerUser, cancellationToken);
        return secret;
    }

    /// <summary>
    /// The session a refresh token stands for, or null when it is unknown, revoked, expired, of an older credential
    /// version, or made with a personal access token that is revoked or expired. A disabled user is returned (the caller refuses).
    /// </summary>
    public async Task<AuthenticatedUser?> AuthenticateAsync(string refreshToken, CancellationToken cancellationToken)
    {
        if (!Secrets.LooksLikeRefreshToken(refreshToken) || refreshToken.Length > 256) return null;
        var found = await store.FindRefreshTokenAsync(Secrets.Hash(refreshToken), cancellationToken);
        if (found is null || !found.CredentialAlive) return null;
        var now = time.GetUtcNow();
        if (found.Token.ExpiresAt <= now || found.Token.CredentialVersion != found.User.CredentialVersion) return null;
        await store.TouchRefreshTokenAsync(found.Token.Id, now, cancellationToken);
        return new AuthenticatedUser(found.User, Caller.RefreshToken, found.Token.Scopes, found.Token.AccessTokenId, found.Token.Id);
    }

    /// <summary>The caller's sessions that still work.</summary>
    public async Task<AccountResult<IReadOnlyList<RefreshTokenInfo>>> ListAsync(RequestOrigin origin, CancellationToken cancellationToken)
    {
        if (origin.Actor is null || await store.FindUserAsync(origin.Actor, cancellationToken) is not { } user) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        return new AccountResult<IReadOnlyList<RefreshTokenInfo>>(await store.ListRefreshTokensAsync(user.Id, cancellationToken), null);
    }

    /// <summary>
    /// Revokes one of the caller's sessions: with a credential that may manage the account, or the session the caller
    /// is using (logging out needs no more than the session itself). Null <paramref name="sessionId"/>: the current session.
    /// </summary>
    public async Task<AccountResult<long>> RevokeAsync(RequestOrigin origin, long? sessionId, CancellationToken cancellationToken)
    {
        if (origin.Actor is null || await store.FindUserAsync(origin.Actor, cancellationToken) is not { } user) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        var current = origin.Caller.Method() == Caller.RefreshToken ? origin.Caller.SessionId() : null;
        var id = sessionId ?? current;
        if (id is null) return AccountError.Invalid("You are not using a session (a refresh token); name the session to revoke.", "id");
        if (id != current && !origin.Caller.CanManageAccount())
        {
            return AccountError.Forbidden("Revoking another session needs the password or a token with the 'admin' scope.");
        }
        if (!await store.RevokeRefreshTokenAsync(user.Id, id.Value, cancellationToken)) return AccountError.NotFound($"You have no session {id}.");
        accounts.Changed(user.Name);
        await audit.AppendAsync(new AuditEntry(user.Name, origin.ClientAddress, AuditActions.SessionRevoked, $"session:{id}"), cancellationToken);
        return id.Value;
    }
}
