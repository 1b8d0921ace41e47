using Wharf.Core.Access;

namespace Wharf.Server.Accounts;

/// <summary>
/// Short-lived credentials for Wharf's own components: the password is a signed token (marked internal) granting
/// <c>actions</c> on one repository, accepted as a Basic password on <c>/v2/</c> and by <c>/auth/token</c>.
/// The caller (the build service) decides that the user may act on the repository before asking. A build's credential
/// also carries <see cref="RegistryTokenService.PullClaim"/>: pull elsewhere is judged per request with the user's own
/// permissions (<see cref="AccountsRegistryAccessPolicy"/>), never more than the user may pull, and never push.
/// </summary>
public sealed class InternalCredentials(RegistryTokenService tokens) : IInternalCredentials
{
    public static readonly TimeSpan MinLifetime = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public ValueTask<RegistryCredential?> IssueAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, CancellationToken cancellationToken) =>
        ValueTask.FromResult<RegistryCredential?>(Issue(username, repository, actions, lifetime, pullAsSubject: false));

    public ValueTask<RegistryCredential?> IssueForBuildAsync(string username, string repository, TimeSpan lifetime, CancellationToken cancellationToken) =>
        ValueTask.FromResult<RegistryCredential?>(Issue(username, repository, RegistryActions.Pull | RegistryActions.Push, lifetime, pullAsSubject: true));

    private RegistryCredential Issue(string username, string repository, RegistryActions actions, TimeSpan lifetime, bool pullAsSubject)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        if (lifetime < MinLifetime) lifetime = MinLifetime;
        if (lifetime > MaxLifetime) lifetime = MaxLifetime;
        var issued = tokens.Issue(username, [new AccessEntry("repository", repository, ScopeParser.FormatActions(actions))], lifetime, isInternal: true, pullAsSubject: pullAsSubject);
        return new RegistryCredential(username, issued.Token);
    }
}
