namespace Wharf.Core.Builds;

/// <summary>A stored credential for an external registry, as listed: never its secret.</summary>
public sealed record StoredRegistryCredential(Guid Id, string? Owner, string Host, string Username, DateTimeOffset CreatedAt);

/// <summary>
/// Credentials for external registries, per owner. The secret is stored as the ciphertext <see cref="ISecretProtector"/>
/// made; only the worker reads it back, to push.
/// </summary>
public interface IRegistryCredentialStore
{
    /// <summary>Stores a credential; one per owner and host: storing again for the same host replaces it (same id).</summary>
    Task<StoredRegistryCredential> UpsertAsync(string? owner, string host, string username, string protectedSecret, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredRegistryCredential>> ListAsync(string? owner, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string? owner, Guid id, CancellationToken cancellationToken);

    /// <summary>The credential and its protected secret, by id, or else by owner and host.</summary>
    Task<(StoredRegistryCredential Credential, string ProtectedSecret)?> FindAsync(string? owner, Guid? id, string host, CancellationToken cancellationToken);
}

/// <summary>Encrypts secrets at rest (ASP.NET Data Protection in the server).</summary>
public interface ISecretProtector
{
    string Protect(string secret);

    string Unprotect(string protectedSecret);
}
