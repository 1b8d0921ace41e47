using Wharf.Core.Digests;

namespace Wharf.Core.Storage;

/// <summary>A stored blob: its digest, its size in bytes, and when it was last written (garbage collection's grace period counts from it).</summary>
public sealed record BlobInfo(Digest Digest, long Size, DateTimeOffset LastModified);

/// <summary>
/// Content-addressed blob storage. Blobs are immutable; a blob is written once and never read whole into
/// memory. Nothing here promises a local file: a read is a forward-only stream over a byte range, and a
/// provider may instead hand out a URL the client downloads from directly. Access control (which repository
/// links which blob) is the metadata store's business, not this one's.
/// </summary>
public interface IBlobStore
{
    /// <summary>The blob's size and last-modified time, or null when it is not stored.</summary>
    ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>
    /// Opens the blob for reading from <paramref name="offset"/>, at most <paramref name="length"/> bytes (to the end
    /// when null): a ranged read. The stream is forward-only and need not be seekable; it ends early only when the
    /// blob is shorter than the range. Null when the blob is not stored. <paramref name="offset"/> must not be
    /// negative nor beyond the blob's size.
    /// </summary>
    ValueTask<Stream?> OpenReadAsync(Digest digest, long offset, long? length, CancellationToken cancellationToken);

    /// <summary>
    /// A URL from which a client may download the blob itself for a while (a presigned URL), or null when this
    /// store serves blobs through Wharf (the file system always does; S3 when <c>RedirectDownloads</c> is on).
    /// Does not check that the blob is stored: the caller has already done so.
    /// </summary>
    ValueTask<Uri?> GetDownloadUrlAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Removes the blob; false when it was not stored.</summary>
    ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a page of blobs at once (garbage collection: a file system unlinks each, S3 sends one multi-object DELETE
    /// per 1,000 keys); returns those that were stored. Digests not stored are no error.
    /// </summary>
    ValueTask<IReadOnlySet<Digest>> DeleteManyAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken);

    /// <summary>Every stored blob (for garbage collection).</summary>
    IAsyncEnumerable<BlobInfo> ListAsync(CancellationToken cancellationToken);
}
