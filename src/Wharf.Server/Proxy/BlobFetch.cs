using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Win32.SafeHandles;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Core.Storage;

namespace Wharf.Server.Proxy;

/// <summary>
/// One blob on its way from an upstream into the blob store, shared by every client that asks for it meanwhile (the
/// single flight). The bytes go, as they arrive, into the upload store (hashed and verified there before anything is
/// kept) and into a spool file on the node's disk, from which any number of clients read at their own pace. A client
/// gets every byte but the last as soon as it has arrived, and the last only once the digest is verified: a corrupt blob
/// is never kept, and no client ever receives it whole. The fetch does not depend on any client: it goes on when they
/// hang up, and ends only with the server, the upstream's time limit, or the blob stored.
/// </summary>
internal sealed class BlobFetch
{
    private const int ChunkSize = 256 * 1024;

    private readonly TaskCompletionSource<long> _length = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;

    public BlobFetch(Digest digest, string spoolPath)
    {
        Digest = digest;
        SpoolPath = spoolPath;
    }

    public Digest Digest { get; }

    public string SpoolPath { get; }

    /// <summary>The blob's size, once the upstream has answered; faults with the <see cref="UpstreamException"/> when it did not.</summary>
    public Task<long> Length => _length.Task;

    /// <summary>Completes when the blob is verified, stored and linked; faults when it was not.</summary>
    public Task Done => _done.Task;

    public long Written => Volatile.Read(ref _written);

    /// <summary>
    /// Fetches the blob: <paramref name="open"/> starts the upstream GET; the body goes to <paramref name="uploads"/>
    /// (verified against the digest) and to the spool file, then <paramref name="link"/> links it into the repository.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task<HttpResponseMessage>> open, TimeSpan readTimeout, IUploadStore uploads,
        Func<BlobInfo, CancellationToken, Task> link, CancellationToken cancellationToken)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * ChunkSize, resumeWriterThreshold: 2 * ChunkSize, useSynchronizationContext: false));
        Task<UploadResult>? storing = null;
        byte[]? buffer = null;
        try
        {
            using var response = await open(cancellationToken);
            var length = response.Content.Headers.ContentLength
                ?? throw new UpstreamException($"The upstream answered the blob {Digest} without a Content-Length.", 502);
            Directory.CreateDirectory(Path.GetDirectoryName(SpoolPath)!);
            using var spool = File.OpenHandle(SpoolPath, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            _length.TrySetResult(length);
            storing = uploads.WriteAsync(Digest, pipe.Reader.AsStream(), length, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long total = 0;
            while (true)
            {
                idle.CancelAfter(readTimeout);
                int read;
                try
                {
                    read = await body.ReadAsync(buffer.AsMemory(0, ChunkSize), idle.Token);
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
                if (read == 0) break;
                if (total + read > length) throw new UpstreamException($"The upstream sent more of the blob {Digest} than the {length} bytes it announced.", 502);
                await RandomAccess.WriteAsync(spool, buffer.AsMemory(0, read), total, cancellationToken);
                var flushed = await pipe.Writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                total += read;
                Volatile.Write(ref _written, total);
                Signal();
                if (flushed.IsCompleted) break; // the store stopped reading: its result says why
            }
            await pipe.Writer.CompleteAsync();
            var stored = await storing;
            if (total != length && stored.IsOk) throw new UpstreamException($"The upstream sent {total} of the blob {Digest}'s {length} bytes.", 502);
            switch (stored.Status)
            {
                case UploadStatus.Ok:
                    await link(stored.Blob!, cancellationToken);
                    _done.TrySetResult();
                    break;
                case UploadStatus.DigestMismatch:
                    throw new CorruptUpstreamBlobException(Digest, stored.ActualDigest);
                default:
                    throw new UpstreamException($"The upstream sent {total} bytes of the blob {Digest}, not the {length} it announced.", 502);
            }
        }
        catch (Exception e)
        {
            await pipe.Writer.CompleteAsync(e);
            if (storing is not null)
            {
                try { await storing; } catch { /* the store's own failure is secondary to this one */ }
            }
            _length.TrySetException(e);
            _done.TrySetException(e);
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
            try { File.Delete(SpoolPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            Signal();
        }
    }

    private void Signal() => Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Copies bytes <c>[offset, offset + length)</c> into <paramref name="destination"/> as they arrive, holding back the
    /// blob's last byte until the digest is verified. False when the spool is gone before the copy began (the fetch has
    /// ended: the caller serves from the store); throws the fetch's failure when it fails midway.
    /// </summary>
    public async Task<bool> CopyToAsync(HttpResponse destination, long offset, long length, long blobLength, CancellationToken cancellationToken)
    {
        SafeFileHandle spool;
        try
        {
            spool = File.OpenHandle(SpoolPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
        using (spool)
        {
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
                var read = await RandomAccess.ReadAsync(spool, memory, position, cancellationToken);
                if (read == 0) throw new IOException($"The spool of {Digest} ended at {position} bytes.");
                writer.Advance(read);
                position += read;
                var flush = await writer.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled) return true;
            }
            return true;
        }
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
