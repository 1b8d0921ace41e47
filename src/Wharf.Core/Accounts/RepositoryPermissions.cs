using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>
/// What a user may do on a repository, from its namespace and visibility:
/// administrators everything; a user everything in their own namespace; organization owners and maintainers
/// pull, push and delete, readers pull; anyone (anonymous too, unless switched off) pulls a public repository.
/// A one-component name lives in the root namespace, where only administrators push.
/// Memberships and visibility are cached for <see cref="AuthOptions.CredentialCacheTtl"/>; changes made on this
/// node invalidate at once.
/// </summary>
public sealed class RepositoryPermissions(IAccountStore store, AuthOptions options, TimeProvider time)
{
    public const RegistryActions All = RegistryActions.Pull | RegistryActions.Push | RegistryActions.Delete;

    private readonly ExpiringCache<string, IReadOnlyDictionary<string, OrganizationRole>> _memberships = new(time);
    private readonly ExpiringCache<string, bool> _admins = new(time);
    private readonly ExpiringCache<string, (bool Exists, RepositoryVisibility? Visibility)> _visibility = new(time);

    public AuthOptions Options => options;

    public async ValueTask<RegistryActions> GetActionsAsync(string? username, bool isAdmin, string repository, CancellationToken cancellationToken)
    {
        if (isAdmin) return All;
        var ns = AccountName.NamespaceOf(repository);
        var actions = RegistryActions.None;
        if (username is not null && ns is not null)
        {
            if (ns == username) return All;
            var roles = await GetMembershipsAsync(username, cancellationToken);
            if (roles.TryGetValue(ns, out var role)) actions = role == OrganizationRole.Reader ? RegistryActions.Pull : All;
        }
        if (!actions.HasFlag(RegistryActions.Pull) && (username is not null || options.AnonymousPull) && await IsPublicAsync(repository, cancellationToken))
        {
            actions |= RegistryActions.Pull;
        }
        return actions;
    }

    /// <summary>
    /// Whether the repository exists (or would, on a pull through the pull-through cache) and is public (a repository
    /// without a stored visibility has the configured default).
    /// </summary>
    public async ValueTask<bool> IsPublicAsync(string repository, CancellationToken cancellationToken)
    {
        var (exists, visibility) = await GetVisibilityAsync(repository, cancellationToken);
        return (exists || options.MayExistOnPull(repository)) && visibility == RepositoryVisibility.Public;
    }

    public async ValueTask<(bool Exists, RepositoryVisibility Visibility)> GetVisibilityAsync(string repository, CancellationToken cancellationToken)
    {
        if (!_visibility.TryGet(repository, out var entry))
        {
            entry = await store.GetVisibilityAsync(repository, cancellationToken);
            _visibility.Set(repository, entry, options.CredentialCacheTtl);
        }
        return (entry.Exists, entry.Visibility ?? options.DefaultVisibilityFor(repository));
    }

    public async ValueTask<IReadOnlyDictionary<string, OrganizationRole>> GetMembershipsAsync(string username, CancellationToken cancellationToken)
    {
        if (!_memberships.TryGet(username, out var roles))
        {
            roles = await store.GetMembershipsAsync(username, cancellationToken);
            _memberships.Set(username, roles, options.CredentialCacheTtl);
        }
        return roles;
    }

    /// <summary>Whether the user is an administrator (cached): for callers whose credential does not say, such as bearer tokens.</summary>
    public async ValueTask<bool> IsAdminAsync(string username, CancellationToken cancellationToken)
    {
        if (!_admins.TryGet(username, out var isAdmin))
        {
            isAdmin = (await store.FindUserAsync(username, cancellationToken))?.IsAdmin == true;
            _admins.Set(username, isAdmin, options.CredentialCacheTtl);
        }
        return isAdmin;
    }

    public void InvalidateUser(string username)
    {
        _memberships.Remove(username);
        _admins.Remove(username);
    }

    public void InvalidateRepository(string repository) => _visibility.Remove(repository);
}

/// <summary>
/// The accounts mode's <see cref="IAccountAccess"/>: the account must still exist; an administrator may do everything,
/// anyone else what <see cref="RepositoryPermissions"/> gives them now (memberships read fresh from the store).
/// </summary>
public sealed class AccountsAccountAccess(IAccountStore store, RepositoryPermissions permissions) : IAccountAccess
{
    public async ValueTask<RegistryActions> ActionsAsync(string username, string repository, CancellationToken cancellationToken)
    {
        var account = await store.FindUserAsync(username, cancellationToken);
        if (account is null) return RegistryActions.None;
        permissions.InvalidateUser(username);
        return await permissions.GetActionsAsync(username, account.IsAdmin, repository, cancellationToken);
    }
}
