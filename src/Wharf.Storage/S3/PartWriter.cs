using System.Buffers;
using Amazon.S3;
using Amazon.S3.Model;

namespace Wharf.Storage.S3;

/// <summary>
/// Sends the parts of one multipart upload, up to a fixed number at a time, while the caller fills the next buffer:
/// network in, hash and network out overlap, and memory stays at (concurrency + 1) part buffers. Buffers handed to
/// <see cref="SendAsync"/> belong to the writer, which returns them to the pool when their part is sent. Starts the
/// multipart upload itself when it is given none.
/// </summary>
internal sealed class PartWriter : IAsyncDisposable
{
    private readonly IAmazonS3 _s3;
    private readonly string _bucket;
    private readonly string _key;
    private readonly ArrayPool<byte> _pool;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _cancel;
    private readonly List<Task<UploadPart>> _sending = [];
    private bool _finished;

    public PartWriter(IAmazonS3 s3, string bucket, string key, string? uploadId, int concurrency, ArrayPool<byte> pool, CancellationToken cancellationToken)
    {
        _s3 = s3;
        _bucket = bucket;
        _key = key;
        _pool = pool;
        UploadId = uploadId;
        _slots = new SemaphoreSlim(concurrency, concurrency);
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    public string Key => _key;

    /// <summary>The multipart upload's id (null until the first part when none was given).</summary>
    public string? UploadId { get; private set; }

    /// <summary>True when this writer started the multipart upload (and so aborts it when the write fails).</summary>
    public bool StartedUpload { get; private set; }

    public async Task EnsureStartedAsync()
    {
        if (UploadId is not null) return;
        // Not cancelled with the request: a client that goes while this call is under way would leave the server with a
        // multipart upload whose id this writer never learnt, so could never abort. Cancellation is seen right after.
        var started = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = _key }, CancellationToken.None);
        UploadId = started.UploadId;
        StartedUpload = true;
        _cancel.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Queues <paramref name="length"/> bytes of <paramref name="buffer"/> as part <paramref name="number"/>; waits only for a free slot.</summary>
    public async Task SendAsync(byte[] buffer, int length, int number)
    {
        try
        {
            ThrowIfAPartFailed();
            await EnsureStartedAsync();
            await _slots.WaitAsync(_cancel.Token);
        }
        catch
        {
            _pool.Return(buffer);
            throw;
        }
        _sending.Add(SendOneAsync(buffer, length, number));
    }

    /// <summary>Makes part <paramref name="number"/> from bytes <c>[first, last]</c> of an existing object, on the server.</summary>
    public async Task CopyAsync(string sourceKey, long first, long last, int number)
    {
        ThrowIfAPartFailed();
        await EnsureStartedAsync();
        await _slots.WaitAsync(_cancel.Token);
        _sending.Add(CopyOneAsync(sourceKey, first, last, number));
    }

    /// <summary>Waits for every part; the parts sent by this writer, in order.</summary>
    public async Task<IReadOnlyList<UploadPart>> FinishAsync()
    {
        var parts = await Task.WhenAll(_sending);
        _finished = true;
        return parts.OrderBy(p => p.Number).ToList();
    }

    /// <summary>Stops sending; when this writer started the multipart upload, aborts it (nothing of it remains).</summary>
    public async Task AbortAsync()
    {
        _finished = true;
        await _cancel.CancelAsync();
        foreach (var task in _sending) await ((Task)task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (StartedUpload && UploadId is not null)
        {
            try
            {
                await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = _key, UploadId = UploadId }, CancellationToken.None);
            }
            catch (Exception e) when (S3Client.IsInfrastructure(e))
            {
                // The expiry sweep aborts multipart uploads nothing refers to.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_finished) await AbortAsync();
        _cancel.Dispose();
        _slots.Dispose();
    }

    private void ThrowIfAPartFailed()
    {
        foreach (var task in _sending)
        {
            if (task.IsFaulted || task.IsCanceled) task.GetAwaiter().GetResult();
        }
    }

    private async Task<UploadPart> SendOneAsync(byte[] buffer, int length, int number)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            var response = await _s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = _bucket,
                Key = _key,
                UploadId = UploadId,
                PartNumber = number,
                PartSize = length,
                InputStream = body,
            }, _cancel.Token);
            return new UploadPart(number, length, response.ETag);
        }
        finally
        {
            _pool.Return(buffer);
            _slots.Release();
        }
    }

    private async Task<UploadPart> CopyOneAsync(string sourceKey, long first, long last, int number)
    {
        try
        {
            var response = await _s3.CopyPartAsync(new CopyPartRequest
            {
                SourceBucket = _bucket,
                SourceKey = sourceKey,
                DestinationBucket = _bucket,
                DestinationKey = _key,
                UploadId = UploadId,
                PartNumber = number,
                FirstByte = first,
                LastByte = last,
            }, _cancel.Token);
            return new UploadPart(number, last - first + 1, response.ETag);
        }
        finally
        {
            _slots.Release();
        }
    }
}
