using Wharf.Core.Builds;

namespace Wharf.Core.Accounts;

/// <summary>A user as administrators list them; <see cref="Locked"/> is whether failed logins make them wait somewhere (this node's view).</summary>
public sealed record UserSummary(UserAccount User, bool Locked);

/// <summary>
/// The administrators' verbs on accounts: list, disable and enable, make administrator and take that away, unlock (clear failed-login limits), delete.
/// Each needs an administrator acting with a credential that may manage accounts; nobody disables or deletes themselves,
/// so an instance always keeps an administrator who can sign in.
/// </summary>
public sealed class UserAdministration(
    IAccountStore store, IAuditLog audit, AccountService accounts, LoginRateLimiter limiter, TimeProvider time, IRegistryCredentialStore? registryCredentials = null)
{
    public const int MaxPageSize = 500;

    public async Task<AccountResult<(IReadOnlyList<UserSummary> Users, string? NextCursor)>> ListAsync(RequestOrigin origin, string? after, int limit, CancellationToken cancellationToken)
    {
        if (Refuse(origin) is { } refused) return refused;
        limit = Math.Clamp(limit, 1, MaxPageSize);
        var users = await store.ListUsersAsync(string.IsNullOrEmpty(after) ? null : after, limit + 1, cancellationToken);
        var locked = limiter.LockedUsers();
        var page = users.Take(limit).Select(u => new UserSummary(u, locked.Contains(u.Name))).ToList();
        return (page, users.Count > limit ? page[^1].User.Name : null);
    }

    /// <summary>
    /// Disables (no sign-in, and every credential of the user stops working: password, tokens, sessions, registry
    /// tokens already issued) or enables the user. Enabling does not bring back sessions that disabling ended.
    /// </summary>
    public async Task<AccountResult<UserSummary>> SetDisabledAsync(RequestOrigin origin, string username, bool disabled, CancellationToken cancellationToken)
    {
        if (Refuse(origin) is { } refused) return refused;
        if (await FindAsync(username, cancellationToken) is not { } user) return AccountError.NotFound($"No user '{username}'.");
        if (disabled && user.Name == origin.Actor) return AccountError.Conflict("You cannot disable your own account.", "username");
        if (user.IsDisabled != disabled)
        {
            if (!await store.SetDisabledAsync(user.Id, disabled, cancellationToken)) return AccountError.NotFound($"No user '{username}'.");
            accounts.Changed(user.Name);
            await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, disabled ? AuditActions.UserDisabled : AuditActions.UserEnabled, user.Name), cancellationToken);
        }
        return new UserSummary((await store.FindUserAsync(user.Name, cancellationToken))!, limiter.LockedUsers().Contains(user.Name));
    }

    /// <summary>
    /// Makes the user an administrator, or takes that away (which ends their sessions and registry tokens: nothing
    /// issued under administrator rights outlives them). Nobody takes their own rights away, so an instance always keeps
    /// an administrator.
    /// </summary>
    public async Task<AccountResult<UserSummary>> SetAdminAsync(RequestOrigin origin, string username, bool admin, CancellationToken cancellationToken)
    {
        if (Refuse(origin) is { } refused) return refused;
        if (await FindAsync(username, cancellationToken) is not { } user) return AccountError.NotFound($"No user '{username}'.");
        if (!admin && user.Name == origin.Actor) return AccountError.Conflict("You cannot take away your own administrator rights.", "username");
        if (user.IsAdmin != admin)
        {
            if (!await store.SetAdminAsync(user.Id, admin, cancellationToken)) return AccountError.NotFound($"No user '{username}'.");
            accounts.Changed(user.Name);
            await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, admin ? AuditActions.UserMadeAdmin : AuditActions.UserAdminRemoved, user.Name), cancellationToken);
        }
        return new UserSummary((await store.FindUserAsync(user.Name, cancellationToken))!, limiter.LockedUsers().Contains(user.Name));
    }

    /// <summary>Clears the user's failed-login limits, from every address: at once on this node, within the credential cache time on others.</summary>
    public async Task<AccountResult<UserSummary>> UnlockAsync(RequestOrigin origin, string username, CancellationToken cancellationToken)
    {
        if (Refuse(origin) is { } refused) return refused;
        if (await FindAsync(username, cancellationToken) is not { } user) return AccountError.NotFound($"No user '{username}'.");
        await store.SetLoginsUnlockedAsync(user.Id, time.GetUtcNow(), cancellationToken);
        limiter.Unlock(user.Name);
        accounts.Changed(user.Name);
        await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.UserUnlocked, user.Name), cancellationToken);
        return new UserSummary((await store.FindUserAsync(user.Name, cancellationToken))!, false);
    }

    /// <summary>
    /// Deletes the user: their password, personal access tokens, sessions, organization memberships and stored registry
    /// credentials. The repositories in their namespace are kept, reachable by administrators only, and the name stays
    /// taken, so a later sign-up cannot claim them; an administrator can create an organization of that name to hand
    /// them over, or delete them.
    /// </summary>
    public async Task<AccountResult<UserDeletion>> DeleteAsync(RequestOrigin origin, string username, CancellationToken cancellationToken)
    {
        if (Refuse(origin) is { } refused) return refused;
        if (await FindAsync(username, cancellationToken) is not { } user) return AccountError.NotFound($"No user '{username}'.");
        if (user.Name == origin.Actor) return AccountError.Conflict("You cannot delete your own account.", "username");
        var deleted = await store.DeleteUserAsync(user.Id, cancellationToken);
        if (deleted is null) return AccountError.NotFound($"No user '{username}'.");
        if (registryCredentials is not null)
        {
            foreach (var credential in await registryCredentials.ListAsync(user.Name, cancellationToken))
            {
                await registryCredentials.DeleteAsync(user.Name, credential.Id, cancellationToken);
            }
        }
        limiter.Unlock(user.Name);
        accounts.Changed(user.Name);
        await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.UserDeleted, user.Name,
            Detail: $"{deleted.RepositoriesKept} repositories kept"), cancellationToken);
        return deleted;
    }

    private async Task<UserAccount?> FindAsync(string username, CancellationToken cancellationToken) =>
        AccountName.Problem(username) is null ? await store.FindUserAsync(username, cancellationToken) : null;

    private static AccountError? Refuse(RequestOrigin origin)
    {
        if (origin.Actor is null) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        return origin.Caller.IsAdministrating() ? null : AccountError.Forbidden("Only administrators manage users.");
    }
}
