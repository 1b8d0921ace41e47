using Wharf.Core.Digests;

namespace Wharf.Core.Storage;

/// <summary>A stored blob: its digest and size in bytes.</summary>
public sealed record BlobInfo(Digest Digest, long Size);

/// <summary>
/// Content-addressed blob storage. Blobs are immutable; a blob is written once and
/// never read whole into memory. Access control (which repository links which blob) is
/// the metadata store's business, not this one's.
/// </summary>
public interface IBlobStore
{
    /// <summary>The blob's size, or null when it is not stored.</summary>
    ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Opens the blob for reading. The stream is seekable (for Range requests). Null when not stored.</summary>
    ValueTask<Stream?> OpenReadAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Removes the blob; false when it was not stored.</summary>
    ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Every stored blob (for garbage collection).</summary>
    IAsyncEnumerable<BlobInfo> ListAsync(CancellationToken cancellationToken);
}
