namespace Wharf.Core.Manifests;

/// <summary>What Wharf needs to know of a manifest or index it has validated.</summary>
public sealed record ParsedManifest(string MediaType)
{
    /// <summary>The config descriptor of an image manifest; null for an index.</summary>
    public Descriptor? Config { get; init; }

    public IReadOnlyList<Descriptor> Layers { get; init; } = [];

    /// <summary>The child manifests of an index; empty for an image manifest.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; init; } = [];

    public Descriptor? Subject { get; init; }

    public string? ArtifactType { get; init; }

    /// <summary>The top-level annotations as raw JSON object text, or null.</summary>
    public string? AnnotationsJson { get; init; }

    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>
    /// The artifact type a referrers listing shows for this manifest: <c>artifactType</c>, else for an image
    /// manifest the config media type; for an index without one, none.
    /// </summary>
    public string? ReferrerArtifactType => !string.IsNullOrEmpty(ArtifactType) ? ArtifactType : IsIndex ? null : Config?.MediaType;

    /// <summary>Blobs that must be present in the repository: config and distributable layers.</summary>
    public IEnumerable<Descriptor> RequiredBlobs =>
        (Config is null ? Layers : Layers.Prepend(Config)).Where(d => !d.IsForeign);
}
