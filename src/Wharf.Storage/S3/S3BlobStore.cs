using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;
using Wharf.Core.Digests;
using Wharf.Core.Storage;

namespace Wharf.Storage.S3;

/// <summary>
/// Blobs as objects of an S3 bucket, at the same keys as on the file system. Reads are ranged GETs streamed through,
/// or presigned URLs the client is redirected to.
/// </summary>
public sealed class S3BlobStore : IBlobStore
{
    private readonly IAmazonS3 _s3;
    private readonly S3StorageOptions _options;

    internal S3BlobStore(IAmazonS3 s3, S3StorageOptions options, S3Keys keys)
    {
        _s3 = s3;
        _options = options;
        Keys = keys;
        Bucket = options.Bucket!;
    }

    internal S3Keys Keys { get; }

    internal string Bucket { get; }

    public async ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken)
    {
        var key = Keys.Blob(digest);
        try
        {
            var head = await _s3.GetObjectMetadataAsync(S3Client.Head(Bucket, key), cancellationToken);
            return new BlobInfo(digest, head.ContentLength, LastModified(head.LastModified));
        }
        catch (AmazonS3Exception e) when (S3Client.IsNotFound(e))
        {
            return null;
        }
        catch (Exception e) when (S3Client.IsInfrastructure(e))
        {
            throw S3Client.Translate(e, $"a HEAD of {key}");
        }
    }

    public async ValueTask<Stream?> OpenReadAsync(Digest digest, long offset, long? length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l) ArgumentOutOfRangeException.ThrowIfNegative(l, nameof(length));
        var key = Keys.Blob(digest);
        if (length == 0) return await EmptyRangeAsync(digest, offset, cancellationToken);
        var request = new GetObjectRequest { BucketName = Bucket, Key = key };
        if (offset > 0 || length is not null)
        {
            request.ByteRange = length is { } count ? new ByteRange(offset, offset + count - 1) : new ByteRange($"bytes={offset}-");
        }
        try
        {
            var response = await _s3.GetObjectAsync(request, cancellationToken);
            return new ResponseStream(response);
        }
        catch (AmazonS3Exception e) when (S3Client.IsNotFound(e))
        {
            return null;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // S3 refuses a range that starts at the end: it is empty, or beyond the blob.
            return await EmptyRangeAsync(digest, offset, cancellationToken);
        }
        catch (Exception e) when (S3Client.IsInfrastructure(e))
        {
            throw S3Client.Translate(e, $"a GET of {key}");
        }
    }

    /// <summary>An empty read at <paramref name="offset"/>: null when the blob is not stored, an error when it is shorter.</summary>
    private async ValueTask<Stream?> EmptyRangeAsync(Digest digest, long offset, CancellationToken cancellationToken)
    {
        var stat = await StatAsync(digest, cancellationToken);
        if (stat is null) return null;
        if (offset > stat.Size) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The blob has {stat.Size} bytes.");
        return Stream.Null;
    }

    public async ValueTask<Uri?> GetDownloadUrlAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (!_options.RedirectDownloads) return null;
        var url = await _s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = Bucket,
            Key = Keys.Blob(digest),
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow.Add(_options.RedirectUrlLifetime),
            Protocol = _options.ServiceUrl is { } service && service.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? Protocol.HTTP : Protocol.HTTPS,
        });
        return new Uri(url);
    }

    public async ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (await StatAsync(digest, cancellationToken) is null) return false;
        var key = Keys.Blob(digest);
        try
        {
            await _s3.DeleteObjectAsync(Bucket, key, cancellationToken);
            return true;
        }
        catch (Exception e) when (S3Client.IsInfrastructure(e))
        {
            throw S3Client.Translate(e, $"a DELETE of {key}");
        }
    }

    /// <summary>How many keys one multi-object DELETE may name (the S3 limit).</summary>
    internal const int MaxKeysPerDelete = 1_000;

    /// <summary>How many HEADs a batch delete sends at once to learn which objects are stored.</summary>
    private const int ConcurrentHeads = 16;

    public async ValueTask<IReadOnlySet<Digest>> DeleteManyAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        // A multi-object DELETE answers "deleted" for keys that never existed: HEADs (in parallel) tell which were stored.
        var stored = new List<Digest>(digests.Count);
        await Parallel.ForEachAsync(digests, new ParallelOptions { MaxDegreeOfParallelism = ConcurrentHeads, CancellationToken = cancellationToken }, async (digest, ct) =>
        {
            if (await StatAsync(digest, ct) is null) return;
            lock (stored) stored.Add(digest);
        });
        foreach (var chunk in stored.Chunk(MaxKeysPerDelete))
        {
            var request = new DeleteObjectsRequest { BucketName = Bucket, Objects = [.. chunk.Select(d => new KeyVersion { Key = Keys.Blob(d) })], Quiet = true };
            DeleteObjectsResponse response;
            try
            {
                response = await _s3.DeleteObjectsAsync(request, cancellationToken);
            }
            catch (DeleteObjectsException e)
            {
                response = e.Response;
            }
            catch (Exception e) when (S3Client.IsInfrastructure(e))
            {
                throw S3Client.Translate(e, $"a DELETE of {chunk.Length} objects under {Keys.BlobsPrefix}");
            }
            if (response.DeleteErrors is { Count: > 0 } errors)
            {
                var first = errors[0];
                throw new StorageUnavailableException($"The S3 server failed to delete {errors.Count} of {chunk.Length} objects, first {first.Key}: {first.Code} {first.Message}");
            }
        }
        return stored.ToHashSet();
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = Keys.BlobsPrefix };
        while (true)
        {
            ListObjectsV2Response page;
            try
            {
                page = await _s3.ListObjectsV2Async(request, cancellationToken);
            }
            catch (Exception e) when (S3Client.IsInfrastructure(e))
            {
                throw S3Client.Translate(e, $"a listing of {Keys.BlobsPrefix}");
            }
            foreach (var item in page.S3Objects ?? [])
            {
                if (Keys.TryParseBlob(item.Key, out var digest)) yield return new BlobInfo(digest, item.Size ?? 0, LastModified(item.LastModified));
            }
            if (page.IsTruncated != true) yield break;
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    internal static DateTimeOffset LastModified(DateTime? time) =>
        time is { } t ? new DateTimeOffset(t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc), TimeSpan.Zero) : DateTimeOffset.UnixEpoch;

    /// <summary>The body of a GET, which disposes the response (and so frees its connection) with the stream.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _body = response.ResponseStream;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _body.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _body.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) response.Dispose();
            base.Dispose(disposing);
        }
    }
}
