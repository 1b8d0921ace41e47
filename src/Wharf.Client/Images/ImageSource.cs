using Wharf.Core.Digests;

namespace Wharf.Client.Images;

/// <summary>A manifest to push: raw bytes, media type, digest.</summary>
public sealed record ImageManifest(byte[] Content, string MediaType, Digest Digest);

/// <summary>
/// An image (or an index and its images) read from somewhere local: an OCI layout, an OCI archive, a docker-archive or
/// the Docker daemon. <see cref="Manifests"/> are in push order: an index's children come before it; the last is the root.
/// </summary>
public interface IImageSource : IAsyncDisposable
{
    string Description { get; }

    IReadOnlyList<ImageManifest> Manifests { get; }

    /// <summary>Opens one of the blobs the manifests reference.</summary>
    Task<Stream> OpenBlobAsync(Digest digest, CancellationToken cancellationToken);
}

/// <summary>Receives transfer progress, one blob at a time or several at once (thread-safe implementations only).</summary>
public interface ITransferObserver
{
    /// <summary>A blob transfer (or a preparation step such as compressing a layer) starts; the result reports bytes done.</summary>
    IProgress<long> Start(string id, string label, long total);

    /// <summary>The transfer ended: "pushed", "exists", "mounted", "downloaded", "compressed", …</summary>
    void Complete(string id, string status);
}

/// <summary>Reports nothing.</summary>
public sealed class NullTransferObserver : ITransferObserver
{
    public static readonly NullTransferObserver Instance = new();
    private static readonly IProgress<long> Nothing = new Progress<long>();
    public IProgress<long> Start(string id, string label, long total) => Nothing;
    public void Complete(string id, string status) { }
}
