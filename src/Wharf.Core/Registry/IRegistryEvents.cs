using System.Security.Claims;

namespace Wharf.Core.Registry;

/// <summary>
/// Told about successful changes made through <c>/v2/</c>, after they are stored (the accounts module audits them
/// and gives a new repository its default visibility). Optional: without one registered nothing is told.
/// </summary>
public interface IRegistryEvents
{
    Task ManifestPushedAsync(ClaimsPrincipal caller, string? clientAddress, string repository, string reference, string digest, CancellationToken cancellationToken);

    /// <summary>A manifest, tag or blob was deleted; <paramref name="target"/> names it (<c>repo@digest</c>, <c>repo:tag</c>).</summary>
    Task DeletedAsync(ClaimsPrincipal caller, string? clientAddress, string target, CancellationToken cancellationToken);
}
