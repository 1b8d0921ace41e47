using Wharf.Core.Digests;

namespace Wharf.Core.Storage;

/// <summary>The persisted state of an upload session.</summary>
public sealed record UploadSession(Guid Id, string Repository, long Offset, string DigestAlgorithm, DateTimeOffset StartedAt, DateTimeOffset UpdatedAt);

public enum UploadStatus
{
    Ok,
    /// <summary>No such session (never started, cancelled, committed or expired).</summary>
    Unknown,
    /// <summary>The chunk does not start at the session's current offset (HTTP 416).</summary>
    RangeMismatch,
    /// <summary>The body length differs from the declared length.</summary>
    SizeInvalid,
    /// <summary>The content does not hash to the digest given at commit.</summary>
    DigestMismatch,
    /// <summary>The session belongs to another repository.</summary>
    WrongRepository,
}

/// <summary>The outcome of an upload operation: the session's state after it, and on commit the stored blob.</summary>
public readonly record struct UploadResult(UploadStatus Status, UploadSession? Session = null, BlobInfo? Blob = null, Digest? ActualDigest = null)
{
    public bool IsOk => Status == UploadStatus.Ok;
}

/// <summary>The last chunk of an upload, sent with the request that commits it: its body, and the offset and length the client declared.</summary>
public sealed record UploadChunk(Stream Content, long? Offset, long? Length);

/// <summary>
/// Resumable upload sessions. A session keeps its bytes and offset in storage so that it
/// survives a restart of the server; content is hashed while it streams in; a commit
/// verifies the digest and moves the content into the <see cref="IBlobStore"/> atomically.
/// </summary>
public interface IUploadStore
{
    Task<UploadSession> StartAsync(string repository, string digestAlgorithm, CancellationToken cancellationToken);

    Task<UploadSession?> GetAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>
    /// Appends <paramref name="content"/> to the session. When <paramref name="expectedOffset"/> is given and is not the
    /// session's offset the result is <see cref="UploadStatus.RangeMismatch"/> and nothing is written. When
    /// <paramref name="expectedLength"/> is given and the body is shorter or longer, the result is
    /// <see cref="UploadStatus.SizeInvalid"/> and the session keeps its previous offset.
    /// </summary>
    Task<UploadResult> AppendAsync(Guid id, string repository, Stream content, long? expectedOffset, long? expectedLength, CancellationToken cancellationToken);

    /// <summary>
    /// Appends <paramref name="finalChunk"/> when there is one (as <see cref="AppendAsync"/> would, with the same
    /// results), verifies that the session's content hashes to <paramref name="digest"/> and stores it as a blob; the
    /// session ends. On a digest mismatch the session is kept and the result carries the actual digest. A provider may
    /// write a final chunk that is the whole content straight under its content address, verified first.
    /// </summary>
    Task<UploadResult> CommitAsync(Guid id, string repository, Digest digest, UploadChunk? finalChunk, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="content"/> as a blob in one go (a single-request upload), verified against
    /// <paramref name="digest"/> before it is stored. No session is made: there is nothing to resume, and when the
    /// request fails (a mismatch, a short body, a client that hangs up) nothing of it remains.
    /// </summary>
    Task<UploadResult> WriteAsync(Digest digest, Stream content, long? expectedLength, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a single-request write whose bytes the caller pushes as it gets them (a pull-through fetch), with the
    /// outcomes of <see cref="WriteAsync"/>; the writer says whether this node can read the bytes while they are written.
    /// </summary>
    ValueTask<BlobWriter> BeginWriteAsync(Digest digest, long? expectedLength, CancellationToken cancellationToken);

    /// <summary>Ends the session and frees its storage; false when unknown.</summary>
    Task<bool> CancelAsync(Guid id, string repository, CancellationToken cancellationToken);

    /// <summary>Removes sessions idle for longer than <paramref name="idleFor"/>; returns how many.</summary>
    Task<int> ExpireIdleAsync(TimeSpan idleFor, CancellationToken cancellationToken);
}

public static class UploadStoreExtensions
{
    /// <summary>Commits a session without a final chunk.</summary>
    public static Task<UploadResult> CommitAsync(this IUploadStore uploads, Guid id, string repository, Digest digest, CancellationToken cancellationToken) =>
        uploads.CommitAsync(id, repository, digest, null, cancellationToken);
}
