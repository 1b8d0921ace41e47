using Wharf.Core.Events;

namespace Wharf.Core.Retention;

/// <summary>
/// Retention rules per repository, and what the collector's retention pass needs: the repositories with rules, their
/// tags, and a tag delete that re-checks, in its transaction, that the tag is still the one the rules judged.
/// </summary>
public interface IRetentionStore
{
    /// <summary>The repository's rules (<see cref="RetentionPolicy.IsEmpty"/> when none), or null when there is no such repository.</summary>
    Task<RetentionPolicy?> GetAsync(string repository, CancellationToken cancellationToken);

    /// <summary>Replaces the repository's rules (an empty policy removes them); false when there is no such repository.</summary>
    Task<bool> SetAsync(string repository, RetentionPolicy policy, CancellationToken cancellationToken);

    /// <summary>Repositories that have rules, in name order after <paramref name="after"/>, with their immutable tag patterns.</summary>
    Task<IReadOnlyList<RepositoryRetention>> ListAsync(string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Every tag of the repository.</summary>
    Task<IReadOnlyList<RetainedTag>> ListTagsAsync(string repository, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the tag when, inside the transaction, it still points at <see cref="RetainedTag.Digest"/>, was not moved
    /// since <see cref="RetainedTag.PushedAt"/> and not pulled since <see cref="RetainedTag.LastPulledAt"/>; journals
    /// <paramref name="change"/> with it. False when it changed (the next pass judges it again).
    /// </summary>
    Task<bool> TryDeleteTagAsync(string repository, RetainedTag tag, RegistryChange change, CancellationToken cancellationToken);
}
