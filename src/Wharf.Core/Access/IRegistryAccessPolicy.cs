using System.Security.Claims;

namespace Wharf.Core.Access;

public enum AccessDecision
{
    Allowed,
    /// <summary>The caller has not authenticated and must (HTTP 401 with a challenge).</summary>
    Unauthenticated,
    /// <summary>The caller is known but may not do this (HTTP 403).</summary>
    Denied,
}

/// <summary>
/// Decides whether a caller may act on the registry. Every <c>/v2/</c> route asks it before doing anything,
/// and listings (catalog, referrers) ask <see cref="CanPullAsync"/> to show only what the caller may pull.
/// </summary>
public interface IRegistryAccessPolicy
{
    ValueTask<AccessDecision> CheckAsync(ClaimsPrincipal caller, RegistryScope scope, CancellationToken cancellationToken);

    ValueTask<bool> CanPullAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken);
}

/// <summary>
/// The policy of a registry without accounts: everyone may do everything. Replaced by the accounts
/// policy once accounts exist; kept for `Auth:Mode=Open` single-user setups.
/// </summary>
public sealed class OpenRegistryAccessPolicy : IRegistryAccessPolicy
{
    public ValueTask<AccessDecision> CheckAsync(ClaimsPrincipal caller, RegistryScope scope, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AccessDecision.Allowed);

    public ValueTask<bool> CanPullAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken) =>
        ValueTask.FromResult(true);
}
