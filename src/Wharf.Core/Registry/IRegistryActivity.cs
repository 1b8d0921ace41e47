using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Core.Registry;

/// <summary>
/// Told about pulls and pushes (counters, tag details, search labels). <see cref="ManifestPulled"/> runs on the
/// hottest path of the registry: it must only count in memory, never wait. <see cref="ManifestPushedAsync"/> runs
/// after the manifest is stored and must not throw: a failure there does not fail the push.
/// </summary>
public interface IRegistryActivity
{
    void ManifestPulled(string repository, string? tag);

    ValueTask ManifestPushedAsync(string repository, Digest digest, ParsedManifest manifest, IReadOnlyList<string> tags, CancellationToken cancellationToken);
}
