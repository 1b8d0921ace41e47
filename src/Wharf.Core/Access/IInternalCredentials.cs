namespace Wharf.Core.Access;

/// <summary>A user name and secret a client presents with Basic auth (to <c>/v2/</c> or <c>/auth/token</c>).</summary>
public sealed record RegistryCredential(string Username, string Password);

/// <summary>
/// Issues short-lived credentials that let Wharf's own components (the build worker) act on the registry on a
/// user's behalf, e.g. push a built image into the owner's repository. The password is accepted by Basic auth
/// on <c>/v2/</c> and by <c>/auth/token</c>, so any registry client (buildah, the Docker Engine) can use it.
/// </summary>
public interface IInternalCredentials
{
    /// <summary>
    /// Credentials for <paramref name="username"/> limited to <paramref name="actions"/> on <paramref name="repository"/>,
    /// valid for <paramref name="lifetime"/>. Null when the registry runs without authentication.
    /// </summary>
    ValueTask<RegistryCredential?> IssueAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>
    /// Credentials for a build of <paramref name="username"/> into <paramref name="repository"/>: pull and push on that
    /// repository only, plus pull on any other repository the user may pull, judged at each request with the user's own
    /// permissions (so base images from other namespaces resolve, and a private repository the user cannot read stays
    /// closed). Null when the registry runs without authentication.
    /// </summary>
    ValueTask<RegistryCredential?> IssueForBuildAsync(string username, string repository, TimeSpan lifetime, CancellationToken cancellationToken);
}

/// <summary>The registry runs without accounts: no credentials are needed.</summary>
public sealed class NoInternalCredentials : IInternalCredentials
{
    public ValueTask<RegistryCredential?> IssueAsync(string username, string repository, RegistryActions actions, TimeSpan lifetime, CancellationToken cancellationToken) =>
        ValueTask.FromResult<RegistryCredential?>(null);

    public ValueTask<RegistryCredential?> IssueForBuildAsync(string username, string repository, TimeSpan lifetime, CancellationToken cancellationToken) =>
        ValueTask.FromResult<RegistryCredential?>(null);
}
