namespace Wharf.Core.Access;

/// <summary>
/// What a user may do on a repository now, judged from their account (namespaces, roles, visibility), not from a
/// credential they presented earlier: for work done on their behalf later, such as a queued or retried build, which
/// must hold to the permissions of the moment it runs.
/// </summary>
public interface IAccountAccess
{
    /// <summary>The actions <paramref name="username"/> may take on <paramref name="repository"/>; none when the account is gone.</summary>
    ValueTask<RegistryActions> ActionsAsync(string username, string repository, CancellationToken cancellationToken);
}

/// <summary><c>Auth:Mode=Open</c>: everyone may do everything.</summary>
public sealed class OpenAccountAccess : IAccountAccess
{
    public ValueTask<RegistryActions> ActionsAsync(string username, string repository, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RegistryActions.Pull | RegistryActions.Push | RegistryActions.Delete);
}
