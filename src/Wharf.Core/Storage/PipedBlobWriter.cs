using System.IO.Pipelines;

namespace Wharf.Core.Storage;

/// <summary>
/// A <see cref="BlobWriter"/> for a provider that stores a blob by reading a stream
/// (<see cref="IUploadStore.WriteAsync"/>) and keeps nothing readable on the node while it writes (S3's multipart
/// uploads): the pushed bytes go through a small pipe into that write. Not readable while writing.
/// </summary>
public sealed class PipedBlobWriter : BlobWriter
{
    private const int PauseAt = 1024 * 1024;

    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseAt, resumeWriterThreshold: PauseAt / 2, useSynchronizationContext: false));
    private readonly Task<UploadResult> _storing;
    private long _written;
    private bool _ended;

    /// <param name="store">The provider's stream-reading write, started at once over the pipe's reading end.</param>
    public PipedBlobWriter(Func<Stream, CancellationToken, Task<UploadResult>> store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        _storing = StoreAsync(store, cancellationToken);
    }

    private async Task<UploadResult> StoreAsync(Func<Stream, CancellationToken, Task<UploadResult>> store, CancellationToken cancellationToken)
    {
        try
        {
            return await store(_pipe.Reader.AsStream(), cancellationToken);
        }
        finally
        {
            // A store that stops reading early (too many bytes, a failure) must not leave a write waiting on a full pipe.
            await _pipe.Reader.CompleteAsync();
        }
    }

    public override long Written => Volatile.Read(ref _written);

    public override bool CanReadWhileWriting => false;

    public override async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        if (_storing.IsCompleted) return false;
        var flushed = await _pipe.Writer.WriteAsync(data, cancellationToken);
        if (flushed.IsCompleted) return false;
        Volatile.Write(ref _written, _written + data.Length);
        return true;
    }

    public override GrowingFileReader? OpenWritten() => null;

    public override async Task<UploadResult> CompleteAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        _ended = true;
        await _pipe.Writer.CompleteAsync();
        return await _storing.WaitAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_ended)
        {
            _ended = true;
            // The store's read fails with this, and it keeps nothing (a multipart upload is aborted).
            await _pipe.Writer.CompleteAsync(new OperationCanceledException("The blob's writer gave up before the end."));
        }
        try
        {
            await _storing;
        }
        catch
        {
            // The write was abandoned: its failure is the expected end.
        }
    }
}
