using System.Security.Claims;
using Wharf.Core.Access;
using Wharf.Core.Accounts;

namespace Wharf.Server.Accounts;

/// <summary>
/// The access policy with accounts. A bearer token (or internal credential) is judged by its <c>access</c> claim
/// alone, without the database: a missing action is <see cref="AccessDecision.Unauthenticated"/> for a bearer token
/// (401 with <c>error="insufficient_scope"</c>, so the client can ask for a new token) and
/// <see cref="AccessDecision.Denied"/> for an internal credential. A Basic-authenticated user is judged from
/// namespaces, roles and visibility (<see cref="RepositoryPermissions"/>, cached briefly) limited by the personal
/// access token's scopes; a missing action is <see cref="AccessDecision.Denied"/> (403). Anonymous callers may pull
/// public repositories (unless switched off); anything else asks them to authenticate (401 with a challenge).
/// </summary>
public sealed class AccountsRegistryAccessPolicy(RepositoryPermissions permissions, AuthOptions options) : IRegistryAccessPolicy
{
    public async ValueTask<AccessDecision> CheckAsync(ClaimsPrincipal caller, RegistryScope scope, CancellationToken cancellationToken)
    {
        if (caller is TokenPrincipal token)
        {
            var granted = scope.Catalog ? token.Grants.Catalog
                : scope.Repository is null || (token.Grants.For(scope.Repository) & scope.Actions) == scope.Actions;
            if (granted && token.PullsAsSubject && scope.Repository is { } target && (scope.Actions & ~RegistryActions.Pull) != RegistryActions.None)
            {
                // A build's credential pushes only while its owner still may: permissions are those of the moment of
                // the push, not of the moment the build was queued.
                granted = await SubjectMayAsync(token, target, scope.Actions & ~RegistryActions.Pull, cancellationToken);
            }
            if (granted) return AccessDecision.Allowed;
            if (scope is { Catalog: false, Repository: { } repository, Actions: RegistryActions.Pull }
                && await SubjectMayPullAsync(token, repository, cancellationToken))
            {
                return AccessDecision.Allowed;
            }
            return token.IsInternal ? AccessDecision.Denied : AccessDecision.Unauthenticated;
        }
        var username = caller.Username();
        if (username is null)
        {
            if (scope.Repository is not null && scope.Actions == RegistryActions.Pull && options.AnonymousPull
                && await permissions.IsPublicAsync(scope.Repository, cancellationToken))
            {
                return AccessDecision.Allowed;
            }
            return AccessDecision.Unauthenticated;
        }
        if (scope.Repository is null) return AccessDecision.Allowed;
        var actions = await permissions.GetActionsAsync(username, caller.IsAdmin(), scope.Repository, cancellationToken) & caller.ActionLimit();
        return (actions & scope.Actions) == scope.Actions ? AccessDecision.Allowed : AccessDecision.Denied;
    }

    /// <summary>For listings (catalog): what the caller's account may pull, whatever the token used to list.</summary>
    public async ValueTask<bool> CanPullAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken)
    {
        if (caller is TokenPrincipal { IsInternal: true } internalCaller)
        {
            return internalCaller.Grants.For(repository).HasFlag(RegistryActions.Pull) || await SubjectMayPullAsync(internalCaller, repository, cancellationToken);
        }
        var username = caller.Username();
        var isAdmin = caller is TokenPrincipal
            ? username is not null && await permissions.IsAdminAsync(username, cancellationToken)
            : caller.IsAdmin();
        var limit = caller is TokenPrincipal ? RepositoryPermissions.All : caller.ActionLimit();
        var actions = await permissions.GetActionsAsync(username, isAdmin, repository, cancellationToken) & limit;
        return actions.HasFlag(RegistryActions.Pull);
    }

    /// <summary>A build's internal credential pulls what its owner may pull, from the owner's permissions now (not the token's).</summary>
    public ValueTask<bool> SubjectMayPullAsync(TokenPrincipal token, string repository, CancellationToken cancellationToken) =>
        SubjectMayAsync(token, repository, RegistryActions.Pull, cancellationToken);

    private async ValueTask<bool> SubjectMayAsync(TokenPrincipal token, string repository, RegistryActions actions, CancellationToken cancellationToken)
    {
        if (!token.PullsAsSubject || token.Username() is not { } owner) return false;
        var isAdmin = await permissions.IsAdminAsync(owner, cancellationToken);
        return (await permissions.GetActionsAsync(owner, isAdmin, repository, cancellationToken) & actions) == actions;
    }
}
