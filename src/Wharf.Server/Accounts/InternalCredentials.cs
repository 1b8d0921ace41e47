using Wharf.Core.Access;
using Wharf.Core.Accounts;

namespace Wharf.Server.Accounts;

/// <summary>
/// Short-lived credentials for Wharf's own components: the password is a signed token (marked internal) granting
/// <c>actions</c> on one repository, accepted as a Basic password on <c>/v2/</c> and by <c>/auth/token</c>.
/// The caller (the build service) decides that the user may act on the repository before asking. A build's credential
/// also carries <see cref="RegistryTokenService.PullClaim"/>: pull elsewhere is judged per request with the user's own
/// permissions (<see cref="AccountsRegistryAccessPolicy"/>), never more than the user may pull, and never push.
/// The credential carries the user's credential version, so it stops working when the user changes the password or is
/// disabled; for a user who does not exist (or is disabled) none is issued.
/// </summary>
public sealed class InternalCredentials(RegistryTokenService tokens, AccountStatus status) : IInternalCredentials
{
    public static readonly TimeSpan MinLifetime = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public ValueTask<RegistryCredential?> IssueAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, CancellationToken cancellationToken) =>
        IssueCoreAsync(username, repository, actions, lifetime, pullAsSubject: false, cancellationToken);

    public ValueTask<RegistryCredential?> IssueForBuildAsync(string username, string repository, TimeSpan lifetime, CancellationToken cancellationToken) =>
        IssueCoreAsync(username, repository, RegistryActions.Pull | RegistryActions.Push, lifetime, pullAsSubject: true, cancellationToken);

    private async ValueTask<RegistryCredential?> IssueCoreAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, bool pullAsSubject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        if (lifetime < MinLifetime) lifetime = MinLifetime;
        if (lifetime > MaxLifetime) lifetime = MaxLifetime;
        // A user who is gone or disabled gets no credential: the build's push is refused like any of theirs would be.
        if (await status.GetAsync(username, cancellationToken) is not { Disabled: false } state) return null;
        var issued = tokens.Issue(username, [new AccessEntry("repository", repository, ScopeParser.FormatActions(actions))], lifetime,
            isInternal: true, pullAsSubject: pullAsSubject, credentialVersion: state.CredentialVersion);
        return new RegistryCredential(username, issued.Token);
    }
}
