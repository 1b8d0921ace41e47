using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>
/// The per-user state that every session-like credential checks before it is believed: the user exists, is not
/// disabled, and the credential was issued under the user's current <see cref="UserAccount.CredentialVersion"/> (the
/// security stamp a password change and disabling raise). Registry tokens carry it in their <c>wharf:ver</c> claim,
/// refresh tokens in their row, and a sign-in cookie should carry it as the <see cref="WharfClaims.CredentialVersion"/>
/// claim that <c>CredentialAuthenticator.ToPrincipal</c> puts on every principal: validate a cookie with
/// <see cref="IsCurrentAsync(ClaimsPrincipal, CancellationToken)"/>.
/// States are cached for <see cref="AuthOptions.CredentialCacheTtl"/>; a change made on this node invalidates at once,
/// other nodes see it within that time.
/// </summary>
public sealed class AccountStatus(IAccountStore store, AuthOptions options, TimeProvider time)
{
    /// <summary>What a credential check needs to know about a user.</summary>
    public sealed record State(long UserId, long CredentialVersion, bool Disabled, DateTimeOffset? LoginsUnlockedAt);

    private readonly ExpiringCache<string, State?> _states = new(time);

    /// <summary>The user's state, or null when there is no such user.</summary>
    public async ValueTask<State?> GetAsync(string username, CancellationToken cancellationToken)
    {
        if (_states.TryGet(username, out var state)) return state;
        var user = await store.FindUserAsync(username, cancellationToken);
        state = user is null ? null : new State(user.Id, user.CredentialVersion, user.IsDisabled, user.LoginsUnlockedAt);
        _states.Set(username, state, options.CredentialCacheTtl);
        return state;
    }

    /// <summary>Whether a credential of <paramref name="username"/> issued under <paramref name="credentialVersion"/> still works.</summary>
    public async ValueTask<bool> IsCurrentAsync(string username, long credentialVersion, CancellationToken cancellationToken) =>
        await GetAsync(username, cancellationToken) is { Disabled: false } state && state.CredentialVersion == credentialVersion;

    /// <summary>
    /// Whether an authenticated principal (a sign-in cookie, a verified registry token) still stands for its user: true
    /// for anonymous principals, which stand for nobody.
    /// </summary>
    public ValueTask<bool> IsCurrentAsync(ClaimsPrincipal principal, CancellationToken cancellationToken) =>
        principal.Username() is { } username ? IsCurrentAsync(username, principal.CredentialVersion(), cancellationToken) : ValueTask.FromResult(true);

    /// <summary>Forgets the cached state of <paramref name="username"/> (after a change on this node).</summary>
    public void Invalidate(string username) => _states.Remove(username);
}
