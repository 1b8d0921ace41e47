using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;
using Wharf.Core.Digests;
using Wharf.Core.Storage;

namespace Wharf.Storage.S3;

/// <summary>
/// Resumable upload sessions kept entirely in the bucket, so that any node can continue any session:
/// <list type="bullet">
/// <item>A session is a chain of state objects <c>uploads/&lt;uuid&gt;/state/&lt;seq&gt;</c>, each written create-only
/// (<c>If-None-Match: *</c>): of two nodes changing the same state, exactly one wins. A state holds the offset, the
/// multipart upload and its parts with their ETags, the running hash (<see cref="ResumableHash"/>), and after its
/// header the tail: the last bytes received, fewer than S3's 5 MiB part minimum.</item>
/// <item>A chunk streams through one part-sized buffer that starts with the previous tail; every full buffer becomes
/// a part of the session's multipart upload, sent while the next one fills. Memory is (<c>UploadConcurrency</c> + 1)
/// part buffers from a pool, whatever the size of the upload or of its chunks.</item>
/// <item>A commit checks the digest against the saved hash before anything is stored under the content address, then
/// completes the multipart upload (the tail becomes its last part, copied on the server) and copies the result to
/// <c>blobs/…</c>. When the digest is known before the first byte arrives (a single-request upload, or a session whose
/// only chunk comes with the digest), the bytes go straight into a multipart upload at the blob's key, completed only
/// once verified: no copy.</item>
/// </list>
/// Expired, cancelled and committed sessions leave nothing behind: their multipart uploads are aborted and their
/// objects deleted.
/// </summary>
public sealed partial class S3UploadStore : IUploadStore
{
    private readonly IAmazonS3 _s3;
    private readonly S3StorageOptions _options;
    private readonly S3Keys _keys;
    private readonly S3BlobStore _blobs;
    private readonly string _bucket;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ArrayPool<byte> _buffers;
    private readonly ConcurrentDictionary<Guid, Gate> _gates = new();
    private readonly ConcurrentDictionary<Guid, Loaded> _cache = new();

    internal S3UploadStore(IAmazonS3 s3, S3StorageOptions options, S3BlobStore blobs, TimeProvider time, ILogger logger)
    {
        _s3 = s3;
        _options = options;
        _blobs = blobs;
        _keys = blobs.Keys;
        _bucket = blobs.Bucket;
        _time = time;
        _logger = logger;
        _buffers = ArrayPool<byte>.Create(options.PartSize, maxArraysPerBucket: 64);
    }

    /// <summary>A state object as read: its sequence number, its header, and where its tail starts.</summary>
    private sealed record Loaded(long Sequence, UploadState State, int HeaderLength);

    // ---------------------------------------------------------------- IUploadStore

    public async Task<UploadSession> StartAsync(string repository, string digestAlgorithm, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        if (!Digest.IsSupportedAlgorithm(digestAlgorithm))
            throw new ArgumentException($"Unsupported digest algorithm '{digestAlgorithm}'.", nameof(digestAlgorithm));
        var id = Guid.NewGuid();
        var now = _time.GetUtcNow();
        var state = new UploadState
        {
            Repository = repository,
            Algorithm = digestAlgorithm,
            StartedAt = now,
            UpdatedAt = now,
            Hash = Convert.ToBase64String(ResumableHash.Create(digestAlgorithm).Export()),
        };
        await Guarded("starting an upload", async () =>
        {
            var written = await TryWriteStateAsync(id, 0, state, ReadOnlyMemory<byte>.Empty, cancellationToken);
            if (written is null) throw new InvalidOperationException($"Upload session {id} exists already.");
            return 0;
        });
        return ToSession(id, state);
    }

    public async Task<UploadSession?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var loaded = await Guarded("reading an upload session", () => LoadAsync(id, cancellationToken));
        return loaded is { State.Status: UploadState.Open } ? ToSession(id, loaded.State) : null;
    }

    public async Task<UploadResult> AppendAsync(Guid id, string repository, Stream content, long? expectedOffset, long? expectedLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return await WithOpenSessionAsync(id, repository, "appending to an upload", async loaded =>
        {
            var check = CheckChunk(id, loaded.State, expectedOffset, expectedLength);
            if (check is { } refused) return (refused, loaded);
            return await AppendCoreAsync(id, loaded, content, expectedLength, null, cancellationToken);
        }, cancellationToken);
    }

    public async Task<UploadResult> CommitAsync(Guid id, string repository, Digest digest, UploadChunk? finalChunk, CancellationToken cancellationToken)
    {
        return await WithOpenSessionAsync(id, repository, "completing an upload", async loaded =>
        {
            if (finalChunk is not null)
            {
                var check = CheckChunk(id, loaded.State, finalChunk.Offset, finalChunk.Length);
                if (check is { } refused) return (refused, loaded);
                if (loaded.State.IsEmpty) return await CommitDirectAsync(id, loaded, digest, finalChunk, cancellationToken);
                var (appended, after) = await AppendCoreAsync(id, loaded, finalChunk.Content, finalChunk.Length, digest, cancellationToken);
                if (!appended.IsOk) return (appended, after);
                loaded = after;
            }
            return await CommitCoreAsync(id, loaded, digest, cancellationToken);
        }, cancellationToken);
    }

    public Task<UploadResult> WriteAsync(Digest digest, Stream content, long? expectedLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return Guarded("storing a blob", () => WriteVerifiedAsync(digest, content, expectedLength, cancellationToken));
    }

    /// <summary>
    /// The bytes go through a pipe into <see cref="WriteAsync"/> (a multipart upload completed only when the digest
    /// matches); a multipart upload in progress cannot be read back, so the writer is not readable while writing.
    /// </summary>
    public ValueTask<BlobWriter> BeginWriteAsync(Digest digest, long? expectedLength, CancellationToken cancellationToken) =>
        ValueTask.FromResult<BlobWriter>(new PipedBlobWriter((content, ct) => WriteAsync(digest, content, expectedLength, ct), cancellationToken));

    public async Task<bool> CancelAsync(Guid id, string repository, CancellationToken cancellationToken)
    {
        var result = await WithOpenSessionAsync(id, repository, "cancelling an upload", async loaded =>
        {
            var ended = loaded.State with { Status = UploadState.Ended, UpdatedAt = _time.GetUtcNow() };
            if (await TryWriteStateAsync(id, loaded.Sequence + 1, ended, ReadOnlyMemory<byte>.Empty, cancellationToken) is null)
            {
                return (new UploadResult(UploadStatus.Unknown), loaded);
            }
            await DeleteSessionAsync(id, loaded.State, CancellationToken.None);
            return (new UploadResult(UploadStatus.Ok), loaded);
        }, cancellationToken);
        return result.IsOk;
    }

    public Task<int> ExpireIdleAsync(TimeSpan idleFor, CancellationToken cancellationToken) =>
        Guarded("expiring upload sessions", () => ExpireCoreAsync(idleFor, cancellationToken));

    // ---------------------------------------------------------------- appending

    /// <summary>The refusal of a chunk that does not fit the session (wrong offset, negative length), or null.</summary>
    private static UploadResult? CheckChunk(Guid id, UploadState state, long? expectedOffset, long? expectedLength)
    {
        if (expectedOffset is { } offset && offset != state.Offset) return new UploadResult(UploadStatus.RangeMismatch, ToSession(id, state));
        if (expectedLength is < 0) return new UploadResult(UploadStatus.SizeInvalid, ToSession(id, state));
        return null;
    }

    /// <summary>
    /// Streams a chunk into the session and writes its next state. With <paramref name="committing"/> (the chunk comes
    /// with the commit), a hash that does not match it leaves the session as it was: nothing is recorded.
    /// </summary>
    private async Task<(UploadResult Result, Loaded Loaded)> AppendCoreAsync(Guid id, Loaded loaded, Stream content, long? expectedLength, Digest? committing, CancellationToken cancellationToken)
    {
        var state = loaded.State;
        var hash = ResumableHash.Import(state.Algorithm, Convert.FromBase64String(state.Hash), state.Offset);
        var partSize = _options.PartSize;
        var buffer = _buffers.Rent(partSize);
        var filled = 0;
        var generation = state.Generation;
        var uploadId = state.UploadId;
        var parts = state.Parts;
        string? supersededData = null;
        var copiedParts = 0;
        PartWriter? writer = null;
        try
        {
            // Bytes assembled by an earlier commit attempt (at least one part's worth: only a multipart upload is
            // assembled) go back into play as the first part of a new multipart upload, copied on the server.
            if (state.Assembled > 0)
            {
                supersededData = _keys.Data(id, generation);
                generation++;
                uploadId = null;
                parts = [];
                writer = NewWriter(_keys.Data(id, generation), null, cancellationToken);
                foreach (var (first, last) in CopySegments(state.Assembled, continued: true))
                {
                    await writer.CopyAsync(supersededData, first, last, copiedParts + 1);
                    copiedParts++;
                }
            }
            if (state.TailLength > 0)
            {
                filled += await ReadObjectAsync(_keys.State(id, loaded.Sequence), loaded.HeaderLength, state.TailLength, buffer.AsMemory(filled), cancellationToken);
            }

            var nextPart = writer is null ? NextPartNumber(parts) : copiedParts + 1;
            long received = 0;
            while (true)
            {
                var space = partSize - filled;
                // One byte more than the declared length is enough to know the body is too long.
                var wanted = expectedLength is { } declared ? (int)Math.Min(space, declared - received + 1) : space;
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(filled, wanted), wanted, throwOnEndOfStream: false, cancellationToken);
                hash.Append(buffer.AsSpan(filled, read));
                filled += read;
                received += read;
                if (expectedLength is { } max && received > max)
                {
                    await AbortAsync(writer);
                    return (new UploadResult(UploadStatus.SizeInvalid, ToSession(id, state)), loaded);
                }
                if (filled == partSize)
                {
                    writer ??= NewWriter(_keys.Data(id, generation), uploadId, cancellationToken);
                    var full = buffer;
                    buffer = null!;
                    await writer.SendAsync(full, filled, nextPart++);
                    buffer = _buffers.Rent(partSize);
                    filled = 0;
                }
                if (read < wanted) break;
            }
            if (expectedLength is { } exact && received != exact)
            {
                await AbortAsync(writer);
                return (new UploadResult(UploadStatus.SizeInvalid, ToSession(id, state)), loaded);
            }
            if (committing is { } digest && digest.Algorithm == state.Algorithm && hash.Current() is var actual && actual != digest)
            {
                await AbortAsync(writer);
                return (new UploadResult(UploadStatus.DigestMismatch, ToSession(id, state), ActualDigest: actual), loaded);
            }
            if (filled >= S3StorageOptions.MinimumPartSize)
            {
                // Long enough to be a part: sent now, so the next chunk starts with an empty tail.
                writer ??= NewWriter(_keys.Data(id, generation), uploadId, cancellationToken);
                var last = buffer;
                buffer = null!;
                await writer.SendAsync(last, filled, nextPart++);
                filled = 0;
            }
            if (writer is not null)
            {
                parts = [.. parts, .. await writer.FinishAsync()];
                uploadId = writer.UploadId;
            }

            var updated = state with
            {
                Offset = state.Offset + received,
                Hash = Convert.ToBase64String(hash.Export()),
                Generation = generation,
                UploadId = uploadId,
                Parts = parts,
                Assembled = 0,
                TailLength = filled,
                UpdatedAt = _time.GetUtcNow(),
            };
            var tail = buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, filled);
            var written = await TryWriteStateAsync(id, loaded.Sequence + 1, updated, tail, cancellationToken);
            if (written is null)
            {
                // Another node changed the session meanwhile: its change stands, this chunk does not.
                if (writer is { StartedUpload: true }) await writer.AbortAsync();
                var now = await LoadAsync(id, CancellationToken.None);
                return (new UploadResult(now is null ? UploadStatus.Unknown : UploadStatus.RangeMismatch, now is null ? null : ToSession(id, now.State)), now ?? loaded);
            }
            Forget(_keys.State(id, loaded.Sequence), supersededData);
            return (new UploadResult(UploadStatus.Ok, ToSession(id, updated)), written);
        }
        catch
        {
            await AbortAsync(writer);
            throw;
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync();
            if (buffer is not null) _buffers.Return(buffer);
        }
    }

    private static int NextPartNumber(IReadOnlyList<UploadPart> parts) => parts.Count == 0 ? 1 : parts[^1].Number + 1;

    private PartWriter NewWriter(string key, string? uploadId, CancellationToken cancellationToken) =>
        new(_s3, _bucket, key, uploadId, _options.UploadConcurrency, _buffers, cancellationToken);

    private static async Task AbortAsync(PartWriter? writer)
    {
        if (writer is not null) await writer.AbortAsync();
    }

    // ---------------------------------------------------------------- committing

    private async Task<(UploadResult Result, Loaded Loaded)> CommitCoreAsync(Guid id, Loaded loaded, Digest digest, CancellationToken cancellationToken)
    {
        var state = loaded.State;
        var sameAlgorithm = digest.Algorithm == state.Algorithm;
        if (sameAlgorithm)
        {
            var actual = ResumableHash.Import(state.Algorithm, Convert.FromBase64String(state.Hash), state.Offset).Current();
            if (actual != digest) return (new UploadResult(UploadStatus.DigestMismatch, ToSession(id, state), ActualDigest: actual), loaded);
        }
        var committing = state with { Status = UploadState.Committing, UpdatedAt = _time.GetUtcNow() };
        if (await TryWriteStateAsync(id, loaded.Sequence + 1, committing, ReadOnlyMemory<byte>.Empty, cancellationToken) is null)
        {
            var now = await LoadAsync(id, CancellationToken.None);
            return (new UploadResult(now is null ? UploadStatus.Unknown : UploadStatus.RangeMismatch, now is null ? null : ToSession(id, now.State)), now ?? loaded);
        }

        // From here on, on any failure the session goes back to open (with its parts assembled, if that happened).
        var assembled = state;
        try
        {
            var blobKey = _keys.Blob(digest);
            if (sameAlgorithm && await _blobs.StatAsync(digest, cancellationToken) is not null)
            {
                await TouchAsync(blobKey, cancellationToken);
            }
            else
            {
                assembled = await AssembleAsync(id, loaded, cancellationToken);
                if (!sameAlgorithm)
                {
                    var actual = await HashStoredAsync(id, loaded, assembled, digest.Algorithm, cancellationToken);
                    if (actual != digest)
                    {
                        await ReopenAsync(id, loaded, assembled, CancellationToken.None);
                        return (new UploadResult(UploadStatus.DigestMismatch, ToSession(id, assembled), ActualDigest: actual), loaded);
                    }
                }
                if (await _blobs.StatAsync(digest, cancellationToken) is not null) await TouchAsync(blobKey, cancellationToken);
                else await StoreBlobAsync(id, loaded, assembled, blobKey, cancellationToken);
            }
        }
        catch
        {
            await ReopenQuietlyAsync(id, loaded, assembled);
            throw;
        }
        await DeleteSessionAsync(id, assembled, CancellationToken.None);
        var blob = await _blobs.StatAsync(digest, CancellationToken.None)
                   ?? throw new StorageUnavailableException($"The S3 server lost {_keys.Blob(digest)} right after storing it.");
        return (new UploadResult(UploadStatus.Ok, Blob: blob), loaded);
    }

    /// <summary>
    /// Completes the session's multipart upload into its data object (the tail copied in as the last part), so that the
    /// bytes can be read or copied whole. A session with nothing but a tail stays as it is (its bytes are in the state).
    /// </summary>
    private async Task<UploadState> AssembleAsync(Guid id, Loaded loaded, CancellationToken cancellationToken)
    {
        var state = loaded.State;
        if (state.UploadId is null) return state;
        var parts = state.Parts.ToList();
        if (state.TailLength > 0)
        {
            var copied = await _s3.CopyPartAsync(new CopyPartRequest
            {
                SourceBucket = _bucket,
                SourceKey = _keys.State(id, loaded.Sequence),
                DestinationBucket = _bucket,
                DestinationKey = _keys.Data(id, state.Generation),
                UploadId = state.UploadId,
                PartNumber = NextPartNumber(parts),
                FirstByte = loaded.HeaderLength,
                LastByte = loaded.HeaderLength + state.TailLength - 1,
            }, cancellationToken);
            parts.Add(new UploadPart(NextPartNumber(parts), state.TailLength, copied.ETag));
        }
        await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = _bucket,
            Key = _keys.Data(id, state.Generation),
            UploadId = state.UploadId,
            PartETags = parts.Select(p => new PartETag(p.Number, p.ETag)).ToList(),
        }, cancellationToken);
        return state with { UploadId = null, Parts = [], TailLength = 0, Assembled = state.Offset };
    }

    /// <summary>Hashes the session's bytes as stored (for a commit with another algorithm than the session hashed with).</summary>
    private async Task<Digest> HashStoredAsync(Guid id, Loaded loaded, UploadState assembled, string algorithm, CancellationToken cancellationToken)
    {
        using var hash = Digest.CreateHash(algorithm);
        var buffer = _buffers.Rent(_options.PartSize);
        try
        {
            var (key, offset, length) = assembled.Assembled > 0
                ? (_keys.Data(id, assembled.Generation), 0L, assembled.Assembled)
                : (_keys.State(id, loaded.Sequence), (long)loaded.HeaderLength, assembled.TailLength);
            if (length > 0)
            {
                using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key, ByteRange = new ByteRange(offset, offset + length - 1) }, cancellationToken);
                int read;
                while ((read = await response.ResponseStream.ReadAsync(buffer, cancellationToken)) > 0) hash.AppendData(buffer, 0, read);
            }
            Span<byte> bytes = stackalloc byte[64];
            var written = hash.GetHashAndReset(bytes);
            return Digest.FromHash(algorithm, bytes[..written]);
        }
        finally
        {
            _buffers.Return(buffer);
        }
    }

    /// <summary>Puts the verified bytes of an assembled session under the blob's key.</summary>
    private async Task StoreBlobAsync(Guid id, Loaded loaded, UploadState assembled, string blobKey, CancellationToken cancellationToken)
    {
        if (assembled.Assembled > 0)
        {
            await CopyObjectAsync(_keys.Data(id, assembled.Generation), blobKey, assembled.Assembled, cancellationToken);
            return;
        }
        // Nothing but a tail (fewer than 5 MiB): read it and put it.
        var buffer = _buffers.Rent(_options.PartSize);
        try
        {
            var length = assembled.TailLength == 0 ? 0
                : await ReadObjectAsync(_keys.State(id, loaded.Sequence), loaded.HeaderLength, assembled.TailLength, buffer, cancellationToken);
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = blobKey, InputStream = body, AutoCloseStream = false }, cancellationToken);
        }
        finally
        {
            _buffers.Return(buffer);
        }
    }

    /// <summary>
    /// The first chunk of a session arrives with the digest: it goes straight to the blob's key, as a single-request
    /// upload does. On a mismatch the session stays open and empty, as it was.
    /// </summary>
    private async Task<(UploadResult Result, Loaded Loaded)> CommitDirectAsync(Guid id, Loaded loaded, Digest digest, UploadChunk chunk, CancellationToken cancellationToken)
    {
        var committing = loaded.State with { Status = UploadState.Committing, UpdatedAt = _time.GetUtcNow() };
        if (await TryWriteStateAsync(id, loaded.Sequence + 1, committing, ReadOnlyMemory<byte>.Empty, cancellationToken) is null)
        {
            var now = await LoadAsync(id, CancellationToken.None);
            return (new UploadResult(now is null ? UploadStatus.Unknown : UploadStatus.RangeMismatch, now is null ? null : ToSession(id, now.State)), now ?? loaded);
        }
        UploadResult result;
        try
        {
            result = await WriteVerifiedAsync(digest, chunk.Content, chunk.Length, cancellationToken);
        }
        catch
        {
            await ReopenQuietlyAsync(id, loaded, loaded.State);
            throw;
        }
        if (!result.IsOk)
        {
            await ReopenAsync(id, loaded, loaded.State, CancellationToken.None);
            return (result with { Session = ToSession(id, loaded.State) }, loaded);
        }
        await DeleteSessionAsync(id, loaded.State, CancellationToken.None);
        return (result, loaded);
    }

    /// <summary>
    /// Streams <paramref name="content"/> to the blob's key, hashing it on the way: in one PUT when it fits in one part,
    /// else as a multipart upload that is completed only when the digest matches (and aborted otherwise), so nothing
    /// unverified ever appears under a content address. A blob already stored is not written again, but its bytes are
    /// still read and verified.
    /// </summary>
    private async Task<UploadResult> WriteVerifiedAsync(Digest digest, Stream content, long? expectedLength, CancellationToken cancellationToken)
    {
        var blobKey = _keys.Blob(digest);
        var exists = await _blobs.StatAsync(digest, cancellationToken) is not null;
        using var hash = Digest.CreateHash(digest.Algorithm);
        var partSize = _options.PartSize;
        var buffer = _buffers.Rent(partSize);
        var filled = 0;
        long received = 0;
        var nextPart = 1;
        PartWriter? writer = null;
        try
        {
            while (true)
            {
                var space = partSize - filled;
                var wanted = expectedLength is { } declared ? (int)Math.Min(space, declared - received + 1) : space;
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(filled, wanted), wanted, throwOnEndOfStream: false, cancellationToken);
                hash.AppendData(buffer, filled, read);
                filled += read;
                received += read;
                if (expectedLength is { } max && received > max)
                {
                    await AbortAsync(writer);
                    return new UploadResult(UploadStatus.SizeInvalid);
                }
                var atEnd = read < wanted;
                if (filled == partSize && !atEnd)
                {
                    if (exists)
                    {
                        filled = 0; // already stored: only hashed
                    }
                    else
                    {
                        writer ??= NewWriter(blobKey, null, cancellationToken);
                        var full = buffer;
                        buffer = null!;
                        await writer.SendAsync(full, filled, nextPart++);
                        buffer = _buffers.Rent(partSize);
                        filled = 0;
                    }
                }
                if (atEnd) break;
            }
            if (expectedLength is { } exact && received != exact)
            {
                await AbortAsync(writer);
                return new UploadResult(UploadStatus.SizeInvalid);
            }
            Span<byte> bytes = stackalloc byte[64];
            var actual = Digest.FromHash(digest.Algorithm, bytes[..hash.GetHashAndReset(bytes)]);
            if (actual != digest)
            {
                await AbortAsync(writer);
                return new UploadResult(UploadStatus.DigestMismatch, ActualDigest: actual);
            }
            if (exists)
            {
                await TouchAsync(blobKey, cancellationToken);
            }
            else if (writer is null)
            {
                using var body = new MemoryStream(buffer, 0, filled, writable: false);
                await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = blobKey, InputStream = body, AutoCloseStream = false }, cancellationToken);
            }
            else
            {
                if (filled > 0)
                {
                    var last = buffer;
                    buffer = null!;
                    await writer.SendAsync(last, filled, nextPart++);
                }
                var parts = await writer.FinishAsync();
                await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = _bucket,
                    Key = blobKey,
                    UploadId = writer.UploadId,
                    PartETags = parts.Select(p => new PartETag(p.Number, p.ETag)).ToList(),
                }, cancellationToken);
            }
            var blob = await _blobs.StatAsync(digest, CancellationToken.None)
                       ?? throw new StorageUnavailableException($"The S3 server lost {blobKey} right after storing it.");
            return new UploadResult(UploadStatus.Ok, Blob: blob);
        }
        catch
        {
            await AbortAsync(writer);
            throw;
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync();
            if (buffer is not null) _buffers.Return(buffer);
        }
    }

    /// <summary>Writes the next state as <paramref name="reopened"/>, open again (after a commit that did not end the session).</summary>
    private async Task ReopenAsync(Guid id, Loaded loaded, UploadState reopened, CancellationToken cancellationToken)
    {
        var state = reopened with { Status = UploadState.Open, UpdatedAt = _time.GetUtcNow() };
        var buffer = _buffers.Rent(_options.PartSize);
        try
        {
            var tail = state.TailLength == 0 ? 0
                : await ReadObjectAsync(_keys.State(id, loaded.Sequence), loaded.HeaderLength, state.TailLength, buffer, cancellationToken);
            if (await TryWriteStateAsync(id, loaded.Sequence + 2, state, buffer.AsMemory(0, tail), cancellationToken) is null)
            {
                throw new StorageUnavailableException($"Upload session {id} changed while it was being committed.");
            }
            Forget(_keys.State(id, loaded.Sequence), _keys.State(id, loaded.Sequence + 1));
        }
        finally
        {
            _buffers.Return(buffer);
        }
    }

    private async Task ReopenQuietlyAsync(Guid id, Loaded loaded, UploadState reopened)
    {
        try
        {
            await ReopenAsync(id, loaded, reopened, CancellationToken.None);
        }
        catch (Exception e) when (S3Client.IsInfrastructure(e) || e is StorageException)
        {
            Log.ReopenFailed(_logger, e, id);
        }
    }

    /// <summary>Copies an object on the server; larger than one copy may be, it is copied in parts.</summary>
    private async Task CopyObjectAsync(string source, string target, long size, CancellationToken cancellationToken)
    {
        if (size <= _options.CopyPartLimit)
        {
            await _s3.CopyObjectAsync(new CopyObjectRequest { SourceBucket = _bucket, SourceKey = source, DestinationBucket = _bucket, DestinationKey = target }, cancellationToken);
            return;
        }
        await using var writer = NewWriter(target, null, cancellationToken);
        var number = 1;
        foreach (var (first, last) in CopySegments(size, continued: false)) await writer.CopyAsync(source, first, last, number++);
        var parts = await writer.FinishAsync();
        await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = _bucket,
            Key = target,
            UploadId = writer.UploadId,
            PartETags = parts.Select(p => new PartETag(p.Number, p.ETag)).ToList(),
        }, cancellationToken);
    }

    /// <summary>
    /// The byte ranges in which <paramref name="size"/> bytes are copied as parts, each at most one copy's limit. When
    /// more parts follow (<paramref name="continued"/>), the last range is also at least S3's part minimum.
    /// </summary>
    private IEnumerable<(long First, long Last)> CopySegments(long size, bool continued)
    {
        var limit = _options.CopyPartLimit;
        for (long first = 0; first < size;)
        {
            var length = Math.Min(limit, size - first);
            var rest = size - first - length;
            if (continued && rest is > 0 and < S3StorageOptions.MinimumPartSize) length -= S3StorageOptions.MinimumPartSize;
            yield return (first, first + length - 1);
            first += length;
        }
    }

    /// <summary>
    /// Moves a stored blob's last-modified time to now (a copy onto itself with its metadata replaced, which the server
    /// does without moving the data), so garbage collection's grace period counts from this upload.
    /// </summary>
    private async Task TouchAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var request = new CopyObjectRequest
            {
                SourceBucket = _bucket,
                SourceKey = key,
                DestinationBucket = _bucket,
                DestinationKey = key,
                MetadataDirective = S3MetadataDirective.REPLACE,
            };
            request.Metadata["wharf-uploaded"] = _time.GetUtcNow().ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            await _s3.CopyObjectAsync(request, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "InvalidRequest" or "EntityTooLarge")
        {
            // Larger than one copy may be: it keeps its time.
        }
    }

    // ---------------------------------------------------------------- expiry

    private async Task<int> ExpireCoreAsync(TimeSpan idleFor, CancellationToken cancellationToken)
    {
        var cutoff = _time.GetUtcNow() - idleFor;
        var sessions = new Dictionary<Guid, (long Latest, DateTimeOffset Newest)>();
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _keys.UploadsPrefix };
        while (true)
        {
            var page = await _s3.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                if (!_keys.TryParseSessionKey(item.Key, out var id, out var sequence)) continue;
                var modified = S3BlobStore.LastModified(item.LastModified);
                sessions[id] = sessions.TryGetValue(id, out var known)
                    ? (Math.Max(known.Latest, sequence), modified > known.Newest ? modified : known.Newest)
                    : (sequence, modified);
            }
            if (page.IsTruncated != true) break;
            request.ContinuationToken = page.NextContinuationToken;
        }

        var removed = 0;
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, (latest, newest)) in sessions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var loaded = latest < 0 ? null : await ReadStateAsync(id, latest, cancellationToken);
            if (loaded is null)
            {
                // Objects without a readable state: left over from a session whose clean-up was cut short.
                if (newest < cutoff) await DeletePrefixAsync(_keys.Session(id), cancellationToken);
                continue;
            }
            var busy = _gates.ContainsKey(id); // in use on this node right now, so not idle
            if (loaded.State.UpdatedAt >= cutoff || busy)
            {
                if (loaded.State.UploadId is { } uploadId) live.Add(uploadId);
                continue;
            }
            var ended = loaded.State with { Status = UploadState.Ended, UpdatedAt = _time.GetUtcNow() };
            if (await TryWriteStateAsync(id, latest + 1, ended, ReadOnlyMemory<byte>.Empty, cancellationToken) is null)
            {
                if (loaded.State.UploadId is { } uploadId) live.Add(uploadId); // someone else changed it just now
                continue;
            }
            await DeleteSessionAsync(id, loaded.State, cancellationToken);
            if (loaded.State.Status == UploadState.Open) removed++;
        }

        // Multipart uploads nothing refers to any more: a node died while writing a blob or a session's parts.
        var uploads = new ListMultipartUploadsRequest { BucketName = _bucket, Prefix = _keys.Prefix };
        while (true)
        {
            var page = await _s3.ListMultipartUploadsAsync(uploads, cancellationToken);
            foreach (var upload in page.MultipartUploads ?? [])
            {
                if (S3BlobStore.LastModified(upload.Initiated) >= cutoff || live.Contains(upload.UploadId)) continue;
                if (!upload.Key.StartsWith(_keys.BlobsPrefix, StringComparison.Ordinal) && !upload.Key.StartsWith(_keys.UploadsPrefix, StringComparison.Ordinal)) continue;
                await AbortQuietlyAsync(upload.Key, upload.UploadId);
            }
            if (page.IsTruncated != true) break;
            uploads.KeyMarker = page.NextKeyMarker;
            uploads.UploadIdMarker = page.NextUploadIdMarker;
        }
        return removed;
    }

    // ---------------------------------------------------------------- state objects

    /// <summary>
    /// Runs <paramref name="body"/> on an open session of <paramref name="repository"/>, one operation at a time per
    /// session on this node (across nodes the create-only state writes decide).
    /// </summary>
    private async Task<UploadResult> WithOpenSessionAsync(Guid id, string repository, string what, Func<Loaded, Task<(UploadResult Result, Loaded Loaded)>> body, CancellationToken cancellationToken)
    {
        var gate = await EnterAsync(id, cancellationToken);
        try
        {
            return await Guarded(what, async () =>
            {
                var loaded = await LoadAsync(id, cancellationToken);
                if (loaded is null || loaded.State.Status != UploadState.Open) return new UploadResult(UploadStatus.Unknown);
                if (!string.Equals(loaded.State.Repository, repository, StringComparison.Ordinal)) return new UploadResult(UploadStatus.WrongRepository);
                var (result, after) = await body(loaded);
                if (result.IsOk && result.Session is null) _cache.TryRemove(id, out _);
                else _cache[id] = after;
                return result;
            });
        }
        finally
        {
            Leave(id, gate);
        }
    }

    /// <summary>The session's latest state, or null when it has none. One listing; the header is read only when this node has not seen that state.</summary>
    private async Task<Loaded?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var listing = await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = _keys.States(id) }, cancellationToken);
            long latest = -1;
            foreach (var item in listing.S3Objects ?? [])
            {
                if (_keys.TryParseSessionKey(item.Key, out _, out var sequence) && sequence > latest) latest = sequence;
            }
            if (latest < 0)
            {
                _cache.TryRemove(id, out _);
                return null;
            }
            if (_cache.TryGetValue(id, out var cached) && cached.Sequence == latest) return cached;
            var loaded = await ReadStateAsync(id, latest, cancellationToken);
            if (loaded is not null)
            {
                if (_cache.Count > 10_000) _cache.Clear(); // a cache, safe to lose
                _cache[id] = loaded;
                return loaded;
            }
            // Deleted between the listing and the read: a newer state exists, or the session has ended.
        }
        return null;
    }

    /// <summary>Reads the header of state <paramref name="sequence"/>; null when that object is gone or unreadable.</summary>
    private async Task<Loaded?> ReadStateAsync(Guid id, long sequence, CancellationToken cancellationToken)
    {
        const int firstRead = 64 * 1024;
        var key = _keys.State(id, sequence);
        try
        {
            var head = await ReadRangeAsync(key, 0, firstRead, cancellationToken);
            if (head.Length >= 4)
            {
                var headerLength = 4 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head);
                if (headerLength > head.Length && headerLength <= 64 * 1024 * 1024) head = await ReadRangeAsync(key, 0, headerLength, cancellationToken);
            }
            var state = UploadState.Parse(head, out var length);
            return state is null ? null : new Loaded(sequence, state, length);
        }
        catch (AmazonS3Exception e) when (S3Client.IsNotFound(e))
        {
            return null;
        }
    }

    private async Task<byte[]> ReadRangeAsync(string key, long offset, int length, CancellationToken cancellationToken)
    {
        using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key, ByteRange = new ByteRange(offset, offset + length - 1) }, cancellationToken);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, cancellationToken);
        return copy.ToArray();
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes of an object from <paramref name="offset"/> into <paramref name="target"/>.</summary>
    private async Task<int> ReadObjectAsync(string key, long offset, long length, Memory<byte> target, CancellationToken cancellationToken)
    {
        using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key, ByteRange = new ByteRange(offset, offset + length - 1) }, cancellationToken);
        await response.ResponseStream.ReadExactlyAsync(target[..(int)length], cancellationToken);
        return (int)length;
    }

    /// <summary>Writes state <paramref name="sequence"/> unless it exists; null when another writer got there first.</summary>
    private async Task<Loaded?> TryWriteStateAsync(Guid id, long sequence, UploadState state, ReadOnlyMemory<byte> tail, CancellationToken cancellationToken)
    {
        var header = state.SerializeHeader();
        try
        {
            // The tail is not copied next to the header: the body is read from both where they are.
            using var stream = new TwoPartStream(header, tail);
            await _s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _bucket,
                Key = _keys.State(id, sequence),
                InputStream = stream,
                AutoCloseStream = false,
                IfNoneMatch = "*",
            }, cancellationToken);
            return new Loaded(sequence, state, header.Length);
        }
        catch (AmazonS3Exception e) when (S3Client.IsPreconditionFailed(e))
        {
            return null;
        }
    }

    /// <summary>Aborts the session's multipart upload and deletes every object it has.</summary>
    private async Task DeleteSessionAsync(Guid id, UploadState state, CancellationToken cancellationToken)
    {
        _cache.TryRemove(id, out _);
        if (state.UploadId is { } uploadId) await AbortQuietlyAsync(_keys.Data(id, state.Generation), uploadId);
        await DeletePrefixAsync(_keys.Session(id), cancellationToken);
    }

    private async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix };
        while (true)
        {
            var page = await _s3.ListObjectsV2Async(request, cancellationToken);
            var keys = (page.S3Objects ?? []).Select(o => new KeyVersion { Key = o.Key }).ToList();
            if (keys.Count > 0) await _s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _bucket, Objects = keys, Quiet = true }, cancellationToken);
            if (page.IsTruncated != true) return;
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId }, CancellationToken.None);
        }
        catch (AmazonS3Exception e) when (S3Client.IsNotFound(e))
        {
        }
    }

    /// <summary>Deletes superseded objects in the background: a session's latest state is the newest, so stale ones only cost space until then.</summary>
    private void Forget(params string?[] keys)
    {
        var objects = keys.Where(k => k is not null).Select(k => new KeyVersion { Key = k }).ToList();
        if (objects.Count == 0) return;
        _ = Task.Run(async () =>
        {
            try
            {
                await _s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _bucket, Objects = objects, Quiet = true });
            }
            catch (Exception e) when (S3Client.IsInfrastructure(e) || e is ObjectDisposedException)
            {
                Log.CleanupFailed(_logger, e, objects[0].Key);
            }
        });
    }

    private static UploadSession ToSession(Guid id, UploadState state) =>
        new(id, state.Repository, state.Offset, state.Algorithm, state.StartedAt, state.UpdatedAt);

    /// <summary>Runs an S3 operation, turning the SDK's failures into <see cref="StorageException"/>s.</summary>
    private static async Task<T> Guarded<T>(string what, Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (Exception e) when (S3Client.IsInfrastructure(e))
        {
            throw S3Client.Translate(e, what);
        }
    }

    // ---------------------------------------------------------------- per-session gates on this node

    private sealed class Gate
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public int Users;
    }

    private async Task<Gate> EnterAsync(Guid id, CancellationToken cancellationToken)
    {
        Gate gate;
        lock (_gates)
        {
            gate = _gates.GetOrAdd(id, static _ => new Gate());
            gate.Users++;
        }
        try
        {
            await gate.Lock.WaitAsync(cancellationToken);
            return gate;
        }
        catch
        {
            Release(id, gate);
            throw;
        }
    }

    private void Leave(Guid id, Gate gate)
    {
        gate.Lock.Release();
        Release(id, gate);
    }

    private void Release(Guid id, Gate gate)
    {
        lock (_gates)
        {
            if (--gate.Users == 0) _gates.TryRemove(new KeyValuePair<Guid, Gate>(id, gate));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Could not reopen upload session {Id} after a failed commit; it expires later")]
        public static partial void ReopenFailed(ILogger logger, Exception exception, Guid id);

        [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Could not delete superseded upload object {Key}; it goes with its session")]
        public static partial void CleanupFailed(ILogger logger, Exception exception, string? key);
    }
}
