using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Core.Storage;

namespace Wharf.Server.Proxy;

/// <summary>
/// One blob on its way from an upstream into the blob store, shared by every client that asks for it meanwhile (the
/// single flight). The bytes go, as they arrive, into the upload store's <see cref="BlobWriter"/> (hashed and verified
/// there before anything is kept), and clients read them back from where the store writes them (on the file system,
/// the file that becomes the blob: each byte is written once), each at its own pace. Where the store's bytes cannot be
/// read while they are written (S3), they also go to a spool file on the node's disk, which clients read instead. A
/// client gets every byte but the last as soon as it has arrived, and the last only once the digest is verified: a
/// corrupt blob is never kept, and no client ever receives it whole. The fetch does not depend on any client: it goes
/// on when they hang up, and ends only with the server, the upstream's time limit, or the blob stored.
/// </summary>
internal sealed class BlobFetch
{
    private const int ChunkSize = 256 * 1024;

    private readonly TaskCompletionSource<long> _length = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private Func<GrowingFileReader?> _openReader = static () => null;

    public BlobFetch(Digest digest, string spoolPath)
    {
        Digest = digest;
        SpoolPath = spoolPath;
    }

    public Digest Digest { get; }

    /// <summary>Where the bytes are spooled when the store cannot be read while it writes (nothing is written there otherwise).</summary>
    public string SpoolPath { get; }

    /// <summary>The blob's size, once the upstream has answered; faults with the <see cref="UpstreamException"/> when it did not.</summary>
    public Task<long> Length => _length.Task;

    /// <summary>Completes when the blob is verified, stored and linked; faults when it was not.</summary>
    public Task Done => _done.Task;

    /// <summary>How many bytes clients can read so far.</summary>
    public long Written => Volatile.Read(ref _written);

    /// <summary>
    /// Fetches the blob: <paramref name="open"/> starts the upstream GET; the body goes to a writer of
    /// <paramref name="uploads"/> (verified against the digest, and spooled when the writer cannot be read meanwhile),
    /// then <paramref name="link"/> links it into the repository. The next piece is read from the upstream while the
    /// last one is written and hashed.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task<HttpResponseMessage>> open, TimeSpan readTimeout, IUploadStore uploads,
        Func<BlobInfo, CancellationToken, Task> link, CancellationToken cancellationToken)
    {
        BlobWriter? writer = null;
        SafeFileHandle? spool = null;
        byte[]? filling = null, writing = null;
        Task<bool> stored = Task.FromResult(true);
        Task<int>? reading = null;
        try
        {
            using var response = await open(cancellationToken);
            var length = response.Content.Headers.ContentLength
                ?? throw new UpstreamException($"The upstream answered the blob {Digest} without a Content-Length.", 502);
            writer = await uploads.BeginWriteAsync(Digest, length, cancellationToken);
            if (writer.CanReadWhileWriting)
            {
                _openReader = writer.OpenWritten;
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(SpoolPath)!);
                spool = File.OpenHandle(SpoolPath, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
                _openReader = () => GrowingFileReader.TryOpen(SpoolPath);
            }
            _length.TrySetResult(length);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            filling = ArrayPool<byte>.Shared.Rent(ChunkSize);
            writing = ArrayPool<byte>.Shared.Rent(ChunkSize);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long total = 0;
            while (true)
            {
                idle.CancelAfter(readTimeout);
                reading = ReadUpstreamAsync(body, filling.AsMemory(0, ChunkSize), readTimeout, idle.Token, cancellationToken);
                // The previous piece is being written meanwhile: once it is, clients may have it.
                var more = await stored;
                Volatile.Write(ref _written, total);
                Signal();
                if (!more) break; // the store stopped taking bytes: its result says why
                var read = await reading;
                reading = null;
                if (read == 0) break;
                if (total + read > length) throw new UpstreamException($"The upstream sent more of the blob {Digest} than the {length} bytes it announced.", 502);
                var piece = filling.AsMemory(0, read);
                if (spool is not null) await LocalFileIo.WriteAsync(spool, piece, total, cancellationToken);
                stored = writer.WriteAsync(piece, cancellationToken).AsTask();
                total += read;
                (filling, writing) = (writing, filling);
            }
            var result = await writer.CompleteAsync(cancellationToken);
            if (total != length && result.IsOk) throw new UpstreamException($"The upstream sent {total} of the blob {Digest}'s {length} bytes.", 502);
            switch (result.Status)
            {
                case UploadStatus.Ok:
                    await link(result.Blob!, cancellationToken);
                    _done.TrySetResult();
                    break;
                case UploadStatus.DigestMismatch:
                    throw new CorruptUpstreamBlobException(Digest, result.ActualDigest);
                default:
                    throw new UpstreamException($"The upstream sent {total} bytes of the blob {Digest}, not the {length} it announced.", 502);
            }
        }
        catch (Exception e)
        {
            _length.TrySetException(e);
            _done.TrySetException(e);
        }
        finally
        {
            // Neither buffer goes back to the pool while a read or a write may still use it.
            if (reading is not null) await ((Task)reading).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await ((Task)stored).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (writer is not null)
            {
                try { await writer.DisposeAsync(); } catch { /* the fetch's own outcome is already set */ }
            }
            if (filling is not null) ArrayPool<byte>.Shared.Return(filling);
            if (writing is not null) ArrayPool<byte>.Shared.Return(writing);
            if (spool is not null)
            {
                spool.Dispose();
                try { File.Delete(SpoolPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            Signal();
        }
    }

    private async Task<int> ReadUpstreamAsync(Stream body, Memory<byte> buffer, TimeSpan readTimeout, CancellationToken idle, CancellationToken cancellationToken)
    {
        try
        {
            return await body.ReadAsync(buffer, idle);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException($"The upstream stopped sending the blob {Digest} for {readTimeout.TotalSeconds:0.#} s (Wharf:Proxy:UpstreamTimeout).", 504, inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new UpstreamException($"The upstream broke off the blob {Digest}: {e.Message}", 502, inner: e);
        }
        catch (IOException e)
        {
            throw new UpstreamException($"The upstream broke off the blob {Digest}: {e.Message}", 502, inner: e);
        }
    }

    private void Signal() => Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Copies bytes <c>[offset, offset + length)</c> into <paramref name="destination"/> as they arrive, holding back the
    /// blob's last byte until the digest is verified. False when the fetch's bytes can no longer be read when the copy
    /// begins (the fetch has ended: the caller serves from the store); throws the fetch's failure when it fails midway.
    /// </summary>
    public async Task<bool> CopyToAsync(HttpResponse destination, long offset, long length, long blobLength, CancellationToken cancellationToken)
    {
        using var source = Volatile.Read(ref _openReader)();
        if (source is null) return false;
        var writer = destination.BodyWriter;
        var position = offset;
        var end = offset + length;
        while (position < end)
        {
            var progress = Volatile.Read(ref _progress).Task;
            var verified = Done.IsCompletedSuccessfully;
            if (Done.IsFaulted) await Done; // throws the fetch's failure
            var available = Math.Min(end, verified ? blobLength : Math.Min(Written, blobLength - 1));
            if (position >= available)
            {
                await progress.WaitAsync(cancellationToken);
                continue;
            }
            var memory = writer.GetMemory(ChunkSize);
            if (memory.Length > available - position) memory = memory[..(int)(available - position)];
            var read = await source.ReadAsync(memory, position, cancellationToken);
            if (read == 0) throw new IOException($"The bytes of {Digest} being fetched ended at {position}.");
            writer.Advance(read);
            position += read;
            var flush = await writer.FlushAsync(cancellationToken);
            if (flush.IsCompleted || flush.IsCanceled) return true;
        }
        return true;
    }
}

/// <summary>An upstream sent a blob whose content does not hash to its digest: nothing of it was kept.</summary>
public sealed class CorruptUpstreamBlobException(Digest expected, Digest? actual)
    : Exception($"The upstream sent content for {expected} that hashes to {actual?.ToString() ?? "something else"}: it was not kept.")
{
    public Digest Expected { get; } = expected;
}

/// <summary>
/// The blob arrived and was verified, but garbage collection is deleting that content at this moment, so the repository
/// could not link it: nothing was kept, and the client asks again (the collector finishes within moments).
/// </summary>
public sealed class BlobBeingCollectedException(Digest digest)
    : Exception($"The blob {digest} is being removed by garbage collection right now; pull it again.")
{
    public Digest Digest { get; } = digest;
}
