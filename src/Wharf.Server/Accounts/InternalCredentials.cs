using Wharf.Core.Access;

namespace Wharf.Server.Accounts;

/// <summary>
/// Short-lived credentials for Wharf's own components: the password is a signed token (marked internal) granting
/// <c>actions</c> on one repository, accepted as a Basic password on <c>/v2/</c> and by <c>/auth/token</c>.
/// The caller (the build service) decides that the user may act on the repository before asking.
/// </summary>
public sealed class InternalCredentials(RegistryTokenService tokens) : IInternalCredentials
{
    public static readonly TimeSpan MinLifetime = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public ValueTask<RegistryCredential?> IssueAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        if (lifetime < MinLifetime) lifetime = MinLifetime;
        if (lifetime > MaxLifetime) lifetime = MaxLifetime;
        var issued = tokens.Issue(username, [new AccessEntry("repository", repository, ScopeParser.FormatActions(actions))], lifetime, isInternal: true);
        return ValueTask.FromResult<RegistryCredential?>(new RegistryCredential(username, issued.Token));
    }
}
