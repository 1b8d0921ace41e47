using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Wharf.Core.Digests;
using Wharf.Core.Storage;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Blobs and resumable upload sessions in one folder on a local filesystem:
/// <code>
/// blobs/&lt;alg&gt;/&lt;first two hex&gt;/&lt;hex&gt;   content-addressed, immutable
/// uploads/&lt;uuid&gt;/data                    the bytes received so far (its length is the offset)
/// uploads/&lt;uuid&gt;/info                    JSON: repository, digest algorithm, started/updated
/// tmp/                                 monolithic writes in progress
/// </code>
/// Content streams through one pooled buffer and is hashed while it is written; every append is
/// fsynced, so a session survives a restart (its hash is then rebuilt from <c>data</c>). A commit
/// renames <c>data</c> into <c>blobs/</c>, which is atomic because both live under the same root.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore, IUploadStore, IDisposable
{
    /// <summary>Size of the pooled copy buffer.</summary>
    internal const int BufferSize = 1024 * 1024;

    /// <summary>How much of an upload is written before its writeback to disk is started (see <see cref="EarlyWriteback"/>).</summary>
    internal const long WritebackChunk = 8 * 1024 * 1024;

    private const string DataFileName = "data";
    private const string InfoFileName = "info";
    private const string InfoTempFileName = "info.tmp";

    private static readonly string[] Algorithms = [Digest.Sha256, Digest.Sha512];

    private readonly string _root;
    private readonly string _blobsRoot;
    private readonly string _uploadsRoot;
    private readonly string _tmpRoot;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Guid, SessionState> _sessions = new();

    public FileSystemBlobStore(FileSystemStorageOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _root = System.IO.Path.GetFullPath(options.Path);
        _blobsRoot = System.IO.Path.Combine(_root, "blobs");
        _uploadsRoot = System.IO.Path.Combine(_root, "uploads");
        _tmpRoot = System.IO.Path.Combine(_root, "tmp");
        Directory.CreateDirectory(_blobsRoot);
        Directory.CreateDirectory(_uploadsRoot);
        Directory.CreateDirectory(_tmpRoot);
    }

    /// <summary>The absolute root folder.</summary>
    public string RootPath => _root;

    // ---------------------------------------------------------------- IBlobStore

    public ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken)
    {
        var file = new FileInfo(BlobPath(digest));
        return ValueTask.FromResult(file.Exists ? Info(digest, file) : (BlobInfo?)null);
    }

    public ValueTask<Stream?> OpenReadAsync(Digest digest, long offset, long? length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l) ArgumentOutOfRangeException.ThrowIfNegative(l, nameof(length));
        var path = BlobPath(digest);
        SafeFileHandle handle;
        try
        {
            // FileShare.Delete: GC may unlink a blob while a slow client still reads it.
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return ValueTask.FromResult<Stream?>(null);
        }
        var size = RandomAccess.GetLength(handle);
        if (offset > size)
        {
            handle.Dispose();
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The blob has {size} bytes.");
        }
        var end = length is { } count ? Math.Min(size, offset + count) : size;
        return ValueTask.FromResult<Stream?>(new FileRangeStream(handle, offset, end));
    }

    /// <summary>Always null: the file system has no URL of its own; Wharf serves its blobs.</summary>
    public ValueTask<Uri?> GetDownloadUrlAsync(Digest digest, CancellationToken cancellationToken) => ValueTask.FromResult<Uri?>(null);

    public ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken) => ValueTask.FromResult(Unlink(digest));

    /// <summary>Removes the blob's file; false when there was none.</summary>
    private bool Unlink(Digest digest)
    {
        var path = BlobPath(digest);
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// How many unlinks a batch delete runs at once. Two: the collector deletes in the background while pushes go on,
    /// and every unlink adds to the file system's journal that a push's fsync then waits for. Measured on ext4 with a
    /// push probe beside the collection: eight threads at once made the slowest unlinks and fsyncs take 150 ms and
    /// pushes wait for them; an unlink itself costs about 0.12 ms here, so one thread spent 5.8 s of a 10 s collection
    /// of 30,000 blobs unlinking. Two threads, with the next page claimed meanwhile, bring that collection to about 8 s
    /// and leave the push tail where it was on a disk at its usual speed; on a slow disk the tail grows (docs/benchmarks-gc.md).
    /// </summary>
    private const int ConcurrentUnlinks = 2;

    public async ValueTask<IReadOnlySet<Digest>> DeleteManyAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        var queue = digests.ToArray();
        var removed = new HashSet<Digest>();
        var next = -1;
        // Unlinking blocks and has no async API: dedicated threads, not the thread pool's, wait for it.
        var workers = Enumerable.Range(0, Math.Min(ConcurrentUnlinks, queue.Length)).Select(_ => Task.Factory.StartNew(() =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < queue.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!Unlink(queue[i])) continue;
                lock (removed) removed.Add(queue[i]);
            }
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        await Task.WhenAll(workers);
        return removed;
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var algorithm in Algorithms)
        {
            var algorithmDir = System.IO.Path.Combine(_blobsRoot, algorithm);
            if (!Directory.Exists(algorithmDir)) continue;
            foreach (var prefixDir in SafeEnumerate(algorithmDir, directories: true))
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Directory enumeration has no async API: give the thread back between folders.
                await Task.Yield();
                var prefix = System.IO.Path.GetFileName(prefixDir);
                foreach (var file in SafeEnumerate(prefixDir, directories: false))
                {
                    var name = System.IO.Path.GetFileName(file);
                    if (!name.StartsWith(prefix, StringComparison.Ordinal) || prefix.Length != 2) continue;
                    if (!Digest.TryParse(string.Concat(algorithm, ":", name), out var digest)) continue;
                    var info = new FileInfo(file);
                    if (!info.Exists) continue; // deleted while listing
                    yield return Info(digest, info);
                }
            }
        }
    }

    /// <summary>
    /// Stores <paramref name="content"/> as a blob in one go (a monolithic upload): it streams to a temp
    /// file, hashed with <paramref name="digest"/>'s algorithm, then is verified and renamed into place.
    /// Results: <see cref="UploadStatus.Ok"/> with the blob (also when it was already stored: it is not
    /// written twice), <see cref="UploadStatus.SizeInvalid"/> when <paramref name="expectedLength"/> is
    /// given and differs, <see cref="UploadStatus.DigestMismatch"/> with the actual digest.
    /// </summary>
    public async Task<UploadResult> WriteAsync(Digest digest, Stream content, long? expectedLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = BlobPath(digest);
        var temp = System.IO.Path.Combine(_tmpRoot, Guid.NewGuid().ToString("D"));
        try
        {
            long written;
            Digest actual;
            using (var hash = Digest.CreateHash(digest.Algorithm))
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
                {
                    var copy = await CopyAsync(content, file, hash, expectedLength, cancellationToken);
                    if (!copy.LengthOk) return new UploadResult(UploadStatus.SizeInvalid);
                    written = copy.Written;
                    file.Flush(flushToDisk: true);
                }
                actual = FinishHash(hash, digest.Algorithm);
            }
            if (actual != digest) return new UploadResult(UploadStatus.DigestMismatch, ActualDigest: actual);
            return new UploadResult(UploadStatus.Ok, Blob: MoveIntoPlace(digest, temp, target));
        }
        finally
        {
            TryDeleteFile(temp);
        }
    }

    /// <summary>
    /// A blob written by pushes into one file in <c>tmp/</c>, which readers may follow while it grows and which becomes
    /// the blob once verified (<see cref="FileSystemBlobWriter"/>): the same outcomes as <see cref="WriteAsync"/>.
    /// </summary>
    public ValueTask<BlobWriter> BeginWriteAsync(Digest digest, long? expectedLength, CancellationToken cancellationToken)
    {
        var target = BlobPath(digest);
        var temp = System.IO.Path.Combine(_tmpRoot, Guid.NewGuid().ToString("D"));
        return ValueTask.FromResult<BlobWriter>(new FileSystemBlobWriter(digest, expectedLength, temp, verified => MoveIntoPlace(digest, verified, target)));
    }

    // ---------------------------------------------------------------- IUploadStore

    public async Task<UploadSession> StartAsync(string repository, string digestAlgorithm, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        if (!Digest.IsSupportedAlgorithm(digestAlgorithm))
            throw new ArgumentException($"Unsupported digest algorithm '{digestAlgorithm}'.", nameof(digestAlgorithm));

        var id = Guid.NewGuid();
        var dir = SessionDirectory(id);
        var now = _time.GetUtcNow();
        try
        {
            Directory.CreateDirectory(dir);
            await using (new FileStream(System.IO.Path.Combine(dir, DataFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
            }
            await WriteInfoAsync(dir, new UploadInfo(repository, digestAlgorithm, now, now), cancellationToken);
        }
        catch
        {
            // A full disk: no half-made session stays behind.
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            throw;
        }
        DirectorySync.Flush(_uploadsRoot);
        return new UploadSession(id, repository, 0, digestAlgorithm, now, now);
    }

    /// <summary>
    /// The session whatever its repository, or null. Does not wait for an append in progress:
    /// its offset may then include bytes of that append.
    /// </summary>
    public async Task<UploadSession?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var dir = SessionDirectory(id);
        var info = await ReadInfoAsync(dir, cancellationToken);
        if (info is null) return null;
        var length = DataLength(dir);
        return length is null ? null : ToSession(id, info, length.Value);
    }

    public async Task<UploadResult> AppendAsync(Guid id, string repository, Stream content, long? expectedOffset, long? expectedLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return await WithSessionAsync(id, repository, async (state, dir, info) =>
        {
            var dataPath = System.IO.Path.Combine(dir, DataFileName);
            FileStream file;
            try
            {
                file = new FileStream(dataPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return Forget(id, state, UploadStatus.Unknown);
            }

            await using (file)
            {
                var offset = file.Length;
                if (expectedOffset is { } expected && expected != offset)
                    return new UploadResult(UploadStatus.RangeMismatch, ToSession(id, info, offset));
                if (expectedLength is < 0)
                    return new UploadResult(UploadStatus.SizeInvalid, ToSession(id, info, offset));

                var hash = await EnsureHashAsync(state, file, info.DigestAlgorithm, offset, cancellationToken);
                file.Position = offset;
                CopyResult copy;
                try
                {
                    copy = await CopyAsync(content, file, hash, expectedLength, cancellationToken);
                    if (!copy.LengthOk)
                    {
                        // Nothing written (the excess showed in the first buffer): nothing to undo, the hash is intact.
                        if (copy.Written > 0) Rollback(state, file, offset);
                        return new UploadResult(UploadStatus.SizeInvalid, ToSession(id, info, offset));
                    }
                    file.Flush(flushToDisk: true);
                    state.HashedLength = offset + copy.Written;
                    var updated = info with { UpdatedAt = _time.GetUtcNow() };
                    await WriteInfoAsync(dir, updated, CancellationToken.None);
                    return new UploadResult(UploadStatus.Ok, ToSession(id, updated, state.HashedLength));
                }
                catch
                {
                    // A client that hangs up mid-body (IOException, OperationCanceledException) or a
                    // full or failing disk: the session keeps its previous offset and the client may resume.
                    Rollback(state, file, offset);
                    throw;
                }
            }
        }, cancellationToken);
    }

    /// <summary>
    /// On success the result has the stored blob and no session (it has ended). On a digest mismatch
    /// the session is kept, unchanged, and the result carries the content's actual digest. A final chunk is
    /// appended first, as <see cref="AppendAsync"/> would, and taken back again when the digest does not match: a
    /// request that fails leaves the session as it was.
    /// </summary>
    public async Task<UploadResult> CommitAsync(Guid id, string repository, Digest digest, UploadChunk? finalChunk, CancellationToken cancellationToken)
    {
        if (finalChunk is null) return await CommitCoreAsync(id, repository, digest, cancellationToken);
        var before = await GetAsync(id, cancellationToken);
        var appended = await AppendAsync(id, repository, finalChunk.Content, finalChunk.Offset, finalChunk.Length, cancellationToken);
        if (!appended.IsOk) return appended;
        var committed = await CommitCoreAsync(id, repository, digest, cancellationToken);
        if (committed.Status != UploadStatus.DigestMismatch || before is null) return committed;
        var restored = await WithSessionAsync(id, repository, async (state, dir, info) =>
        {
            await using var file = new FileStream(System.IO.Path.Combine(dir, DataFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
            Rollback(state, file, before.Offset);
            return new UploadResult(UploadStatus.Ok, ToSession(id, info, before.Offset));
        }, CancellationToken.None);
        return committed with { Session = restored.Session ?? committed.Session };
    }

    private async Task<UploadResult> CommitCoreAsync(Guid id, string repository, Digest digest, CancellationToken cancellationToken)
    {
        var target = BlobPath(digest);
        return await WithSessionAsync(id, repository, async (state, dir, info) =>
        {
            var dataPath = System.IO.Path.Combine(dir, DataFileName);
            long length;
            Digest actual;
            try
            {
                await using var file = new FileStream(dataPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
                length = file.Length;
                if (digest.Algorithm == info.DigestAlgorithm)
                {
                    var hash = await EnsureHashAsync(state, file, info.DigestAlgorithm, length, cancellationToken);
                    actual = CurrentHash(hash, digest.Algorithm);
                }
                else
                {
                    // The client announced one algorithm and commits with another: hash again with the right one.
                    using var hash = await HashFileAsync(file, digest.Algorithm, length, cancellationToken);
                    actual = FinishHash(hash, digest.Algorithm);
                }
                if (actual == digest) file.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return Forget(id, state, UploadStatus.Unknown);
            }

            if (actual != digest)
                return new UploadResult(UploadStatus.DigestMismatch, ToSession(id, info, length), ActualDigest: actual);

            var stored = MoveIntoPlace(digest, dataPath, target);
            DeleteSessionDirectory(dir);
            Forget(id, state, UploadStatus.Ok);
            return new UploadResult(UploadStatus.Ok, Blob: stored);
        }, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a session under its gate (one operation at a time per session), once the
    /// session is known to exist and to belong to <paramref name="repository"/>.
    /// </summary>
    private async Task<UploadResult> WithSessionAsync(Guid id, string repository, Func<SessionState, string, UploadInfo, Task<UploadResult>> body, CancellationToken cancellationToken)
    {
        var state = _sessions.GetOrAdd(id, static _ => new SessionState());
        await state.Gate.WaitAsync(cancellationToken);
        try
        {
            var dir = SessionDirectory(id);
            var info = await ReadInfoAsync(dir, cancellationToken);
            if (info is null) return Forget(id, state, UploadStatus.Unknown);
            if (!string.Equals(info.Repository, repository, StringComparison.Ordinal)) return new UploadResult(UploadStatus.WrongRepository);
            return await body(state, dir, info);
        }
        finally
        {
            state.Gate.Release();
        }
    }

    /// <summary>False when the session is unknown or belongs to another repository.</summary>
    public async Task<bool> CancelAsync(Guid id, string repository, CancellationToken cancellationToken)
    {
        var state = _sessions.GetOrAdd(id, static _ => new SessionState());
        await state.Gate.WaitAsync(cancellationToken);
        try
        {
            var dir = SessionDirectory(id);
            var info = await ReadInfoAsync(dir, cancellationToken);
            if (info is null)
            {
                Forget(id, state, UploadStatus.Unknown);
                return false;
            }
            if (!string.Equals(info.Repository, repository, StringComparison.Ordinal)) return false;
            DeleteSessionDirectory(dir);
            Forget(id, state, UploadStatus.Ok);
            return true;
        }
        finally
        {
            state.Gate.Release();
        }
    }

    /// <summary>
    /// Removes sessions whose last append (or start) is older than <paramref name="idleFor"/>, skipping
    /// any that is busy right now; also removes leftovers of interrupted monolithic writes in <c>tmp/</c>.
    /// </summary>
    public async Task<int> ExpireIdleAsync(TimeSpan idleFor, CancellationToken cancellationToken)
    {
        var cutoff = _time.GetUtcNow() - idleFor;
        var removed = 0;
        foreach (var dir in SafeEnumerate(_uploadsRoot, directories: true))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!Guid.TryParseExact(System.IO.Path.GetFileName(dir), "D", out var id)) continue;
            var state = _sessions.GetOrAdd(id, static _ => new SessionState());
            if (!await state.Gate.WaitAsync(TimeSpan.Zero, cancellationToken)) continue; // busy, so not idle
            try
            {
                var info = await ReadInfoAsync(dir, cancellationToken);
                // A session without a readable info file was interrupted while starting: judge it by the
                // folder's time, which the filesystem took from the system clock.
                var idle = info is not null
                    ? info.UpdatedAt < cutoff
                    : Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow - idleFor;
                if (!idle) continue;
                DeleteSessionDirectory(dir);
                Forget(id, state, UploadStatus.Ok);
                removed++;
            }
            finally
            {
                state.Gate.Release();
            }
        }

        var fileCutoff = DateTime.UtcNow - idleFor;
        foreach (var file in SafeEnumerate(_tmpRoot, directories: false))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) < fileCutoff) File.Delete(file);
            }
            catch (IOException)
            {
            }
        }
        return removed;
    }

    public void Dispose()
    {
        foreach (var state in _sessions.Values)
        {
            state.Hash?.Dispose();
            state.Hash = null;
        }
        _sessions.Clear();
    }

    // ---------------------------------------------------------------- helpers

    private string BlobPath(Digest digest)
    {
        // Digest values are validated on construction (sha256/sha512, lower-case hex), so the
        // path cannot escape the root; default(Digest) is the only unvalidated value.
        if (digest.Algorithm is null || digest.Hex is null) throw new ArgumentException("The digest is empty.", nameof(digest));
        return System.IO.Path.Combine(_blobsRoot, digest.Algorithm, digest.Hex[..2], digest.Hex);
    }

    private string SessionDirectory(Guid id) => System.IO.Path.Combine(_uploadsRoot, id.ToString("D"));

    private static UploadSession ToSession(Guid id, UploadInfo info, long offset) =>
        new(id, info.Repository, offset, info.DigestAlgorithm, info.StartedAt, info.UpdatedAt);

    private static long? DataLength(string dir)
    {
        var data = new FileInfo(System.IO.Path.Combine(dir, DataFileName));
        return data.Exists ? data.Length : null;
    }

    /// <summary>Drops the in-memory state of a session that has ended (or was never known here).</summary>
    private UploadResult Forget(Guid id, SessionState state, UploadStatus status)
    {
        // Only called while holding state.Gate. The semaphore itself is not disposed: another caller may
        // already be waiting on it; it will then find the session gone.
        _sessions.TryRemove(new KeyValuePair<Guid, SessionState>(id, state));
        state.Hash?.Dispose();
        state.Hash = null;
        return new UploadResult(status);
    }

    private static void Rollback(SessionState state, FileStream file, long offset)
    {
        // The hash has consumed bytes that are being thrown away and cannot be rewound: drop it,
        // the next operation rebuilds it from the file.
        state.Hash?.Dispose();
        state.Hash = null;
        file.SetLength(offset);
        file.Flush(flushToDisk: true);
    }

    /// <summary>The session's live hash covering exactly the first <paramref name="length"/> bytes, rebuilt from the file when needed.</summary>
    private static async ValueTask<IncrementalHash> EnsureHashAsync(SessionState state, FileStream file, string algorithm, long length, CancellationToken cancellationToken)
    {
        if (state.Hash is not null && state.HashAlgorithm == algorithm && state.HashedLength == length) return state.Hash;
        state.Hash?.Dispose();
        state.Hash = null;
        var hash = await HashFileAsync(file, algorithm, length, cancellationToken);
        state.Hash = hash;
        state.HashAlgorithm = algorithm;
        state.HashedLength = length;
        return hash;
    }

    private static async Task<IncrementalHash> HashFileAsync(FileStream file, string algorithm, long length, CancellationToken cancellationToken)
    {
        var hash = Digest.CreateHash(algorithm);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            file.Position = 0;
            var remaining = length;
            while (remaining > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken);
                if (read == 0) throw new IOException($"'{file.Name}' ended {remaining} bytes early.");
                hash.AppendData(buffer, 0, read);
                remaining -= read;
            }
            return hash;
        }
        catch
        {
            hash.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private readonly record struct CopyResult(long Written, bool LengthOk);

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="target"/> through one pooled buffer, hashing
    /// what is written. With <paramref name="expectedLength"/>, stops as soon as the body proves longer
    /// (the excess is never written) and reports a short body; the caller then rolls back.
    /// </summary>
    /// <summary>
    /// Copies the request body to the file while hashing it, as a pipeline over two pooled buffers: while one
    /// buffer is written to disk (a thread-pool write) and hashed (on this thread), the next is filled from the
    /// network. Each stage costs about the same per byte, so overlapping them rather than running them one after
    /// another is what makes an upload as fast as the disk.
    /// </summary>
    private static async Task<CopyResult> CopyAsync(Stream source, Stream target, IncrementalHash hash, long? expectedLength, CancellationToken cancellationToken)
    {
        var current = ArrayPool<byte>.Shared.Rent(BufferSize);
        var next = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long written = 0;
            var handle = (target as FileStream)?.SafeFileHandle;
            var start = target.CanSeek ? target.Position : 0;
            long writebackFrom = 0;
            // ReadAtLeastAsync fills the buffer (request bodies arrive in small reads; each write is a syscall)
            // and returns short only at the end of the stream.
            var read = await source.ReadAtLeastAsync(current, current.Length, throwOnEndOfStream: false, cancellationToken);
            while (read > 0)
            {
                if (expectedLength is { } max && written + read > max) return new CopyResult(written, false);
                var atEnd = read < current.Length;
                var write = target.WriteAsync(current.AsMemory(0, read), cancellationToken);
                var fill = atEnd ? Task.FromResult(0) : source.ReadAtLeastAsync(next, next.Length, throwOnEndOfStream: false, cancellationToken).AsTask();
                hash.AppendData(current, 0, read);
                try
                {
                    await write;
                }
                finally
                {
                    // Never return a buffer to the pool while a read into it may still be running.
                    if (!fill.IsCompleted) await ((Task)fill).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
                written += read;
                if (handle is not null && written - writebackFrom >= WritebackChunk)
                {
                    EarlyWriteback.Start(handle, start + writebackFrom, written - writebackFrom);
                    writebackFrom = written;
                }
                read = await fill;
                (current, next) = (next, current);
            }
            return new CopyResult(written, expectedLength is not { } expected || expected == written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    private static Digest CurrentHash(IncrementalHash hash, string algorithm)
    {
        Span<byte> bytes = stackalloc byte[64];
        var written = hash.GetCurrentHash(bytes);
        return Digest.FromHash(algorithm, bytes[..written]);
    }

    internal static Digest FinishHash(IncrementalHash hash, string algorithm)
    {
        Span<byte> bytes = stackalloc byte[64];
        var written = hash.GetHashAndReset(bytes);
        return Digest.FromHash(algorithm, bytes[..written]);
    }

    /// <summary>
    /// Renames a complete, fsynced file to its blob path. When the blob is already stored (or another
    /// writer stores it first) the stored copy's time is moved to now, so that its last-modified time says it was just
    /// uploaded again, and only then is the source deleted: identical content is never written twice. When the stored
    /// copy vanishes in between (garbage collection deleted it), this upload's file takes its place instead.
    /// </summary>
    /// <remarks>
    /// The moved file's time is moved to now as well: the collector deletes an object without a row only when it is older
    /// than its run, and this one gets its row when the upload links it. Should the object still be gone by the time
    /// its size is read, what the upload wrote is reported; the link then finds the object missing and the client
    /// uploads again.
    /// </remarks>
    private static BlobInfo MoveIntoPlace(Digest digest, string source, string target)
    {
        var length = new FileInfo(source).Length;
        while (true)
        {
            if (File.Exists(target) && TryTouch(target) is { } existing)
            {
                File.Delete(source);
                return Info(digest, existing);
            }
            var dir = System.IO.Path.GetDirectoryName(target)!;
            var created = !Directory.Exists(dir);
            if (created) Directory.CreateDirectory(dir);
            try
            {
                File.Move(source, target, overwrite: false);
            }
            catch (IOException) when (File.Exists(target))
            {
                continue; // stored by another writer meanwhile: keep theirs (or, gone again, move ours)
            }
            catch (DirectoryNotFoundException)
            {
                continue; // the prefix folder was removed meanwhile: make it again
            }
            DirectorySync.Flush(dir);
            if (created) DirectorySync.Flush(System.IO.Path.GetDirectoryName(dir)!);
            return TryTouch(target) is { } moved ? Info(digest, moved) : new BlobInfo(digest, length, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Moves the file's time to now and reads its length; null when it no longer exists.</summary>
    private static FileInfo? TryTouch(string path)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            var info = new FileInfo(path);
            _ = info.Length; // read now: the info keeps it, whatever happens to the file next
            return info;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static BlobInfo Info(Digest digest, FileInfo file) =>
        new(digest, file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));

    private static async Task<UploadInfo?> ReadInfoAsync(string dir, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(System.IO.Path.Combine(dir, InfoFileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 4096, FileOptions.Asynchronous);
            return await JsonSerializer.DeserializeAsync(stream, UploadInfoJsonContext.Default.UploadInfo, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Replaces the info file atomically (write a temp file, fsync, rename over).</summary>
    private static async Task WriteInfoAsync(string dir, UploadInfo info, CancellationToken cancellationToken)
    {
        var temp = System.IO.Path.Combine(dir, InfoTempFileName);
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 4096, FileOptions.Asynchronous))
        {
            await JsonSerializer.SerializeAsync(stream, info, UploadInfoJsonContext.Default.UploadInfo, cancellationToken);
            await stream.FlushAsync(cancellationToken);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, System.IO.Path.Combine(dir, InfoFileName), overwrite: true);
    }

    private static void DeleteSessionDirectory(string dir)
    {
        try
        {
            // Remove info first: a folder without it is no longer a session, even if deleting the rest fails.
            File.Delete(System.IO.Path.Combine(dir, InfoFileName));
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    internal static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static IEnumerable<string> SafeEnumerate(string dir, bool directories)
    {
        try
        {
            return directories ? Directory.EnumerateDirectories(dir) : Directory.EnumerateFiles(dir);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>In-memory state of a session for this process: its lock and its live hash (guarded by the lock).</summary>
    private sealed class SessionState
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public IncrementalHash? Hash { get; set; }

        public string? HashAlgorithm { get; set; }

        public long HashedLength { get; set; }
    }
}
