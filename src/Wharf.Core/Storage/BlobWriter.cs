namespace Wharf.Core.Storage;

/// <summary>
/// A blob stored in one go from bytes its writer pushes (a pull-through fetch, as they arrive from an upstream), the
/// push counterpart of <see cref="IUploadStore.WriteAsync"/>: every <see cref="WriteAsync"/> appends, hashed as it is
/// stored; <see cref="CompleteAsync"/> verifies the length and the digest and only then keeps the blob; disposing it
/// without completing leaves nothing behind. Where the provider writes the bytes where this node can read them while
/// the write goes on (a local file), <see cref="OpenWritten"/> gives readers of them, so that no second copy is needed.
/// One writer at a time; <see cref="Written"/> and <see cref="OpenWritten"/> may be used from any thread.
/// </summary>
public abstract class BlobWriter : IAsyncDisposable
{
    /// <summary>The bytes written so far: a reader from <see cref="OpenWritten"/> can read all of them.</summary>
    public abstract long Written { get; }

    /// <summary>True when <see cref="OpenWritten"/> gives readers while the write is under way (false: it always gives null).</summary>
    public abstract bool CanReadWhileWriting { get; }

    /// <summary>
    /// Appends <paramref name="data"/>; the caller keeps the memory untouched until the task completes. False when the
    /// store takes no more bytes (more than the declared length, or the store gave up): <see cref="CompleteAsync"/>
    /// then says why.
    /// </summary>
    public abstract ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// A reader of the bytes written so far (and of those written later, as <see cref="Written"/> grows), or null when
    /// the provider cannot give one or the write has ended (the blob is then read from the <see cref="IBlobStore"/>).
    /// A reader that is open when the write ends still reads every byte that was written.
    /// </summary>
    public abstract GrowingFileReader? OpenWritten();

    /// <summary>
    /// Ends the write: <see cref="UploadStatus.Ok"/> with the stored blob, <see cref="UploadStatus.SizeInvalid"/> when
    /// fewer or more bytes than declared were written, <see cref="UploadStatus.DigestMismatch"/> with the actual digest.
    /// Nothing is kept unless the result is Ok.
    /// </summary>
    public abstract Task<UploadResult> CompleteAsync(CancellationToken cancellationToken);

    /// <summary>Ends the write if it has not ended, keeping nothing of it.</summary>
    public abstract ValueTask DisposeAsync();
}
