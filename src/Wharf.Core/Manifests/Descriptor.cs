using Wharf.Core.Digests;

namespace Wharf.Core.Manifests;

/// <summary>An OCI content descriptor, as found inside manifests and indexes.</summary>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    public string? ArtifactType { get; init; }

    /// <summary>The descriptor's annotations as raw JSON object text, or null.</summary>
    public string? AnnotationsJson { get; init; }

    /// <summary>The <c>platform</c> object as raw JSON text (index entries only), or null.</summary>
    public string? PlatformJson { get; init; }

    /// <summary>True for a non-distributable (foreign) layer that names external <c>urls</c>: the registry need not hold it.</summary>
    public bool IsForeign { get; init; }
}
