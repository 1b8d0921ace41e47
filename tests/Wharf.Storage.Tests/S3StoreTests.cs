using Wharf.Core.Storage;
using Wharf.Storage.S3;
using Wharf.Testing.Services;

namespace Wharf.Storage.Tests;

/// <summary>Stores over one prefix of the test gateway's bucket; each call to <see cref="Create"/> is another node.</summary>
public sealed class S3Storage
{
    private S3Storage(CephRgwService rgw, S3StorageOptions options)
    {
        Rgw = rgw;
        Options = options;
    }

    public CephRgwService Rgw { get; }

    public S3StorageOptions Options { get; }

    public static S3Storage Start(bool redirectDownloads = false, Action<S3StorageOptions>? configure = null)
    {
        var rgw = CephRgwService.GetAsync().GetAwaiter().GetResult();
        var options = rgw.Options(rgw.NewPrefix(), redirectDownloads: redirectDownloads);
        configure?.Invoke(options);
        return new S3Storage(rgw, options);
    }

    public (S3BlobStore Blobs, S3UploadStore Uploads) Create(TimeProvider time) => S3StorageServiceCollectionExtensions.CreateStores(Options, time);
}

public sealed class S3BlobStoreContractTests : BlobStoreContractTests
{
    private readonly S3Storage _storage = S3Storage.Start(redirectDownloads: true);

    protected override bool HandsOutDownloadUrls => true;

    protected override (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time) => _storage.Create(time);
}

public sealed class S3UploadStoreContractTests : UploadStoreContractTests
{
    private readonly S3Storage _storage = S3Storage.Start();

    /// <summary>The SDK's per-request overhead (the part buffers are pooled: the test measures after a first upload).</summary>
    protected override long UploadAllocationBound => 24L * 1024 * 1024;

    protected override bool ReadsWhileWriting => false;

    protected override (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time) => _storage.Create(time);

    protected override async Task AssertNothingLeftAsync()
    {
        Assert.Empty(await _storage.Rgw.ListKeysAsync(_storage.Options.KeyPrefix + "uploads/"));
        Assert.Empty(await _storage.Rgw.ListMultipartUploadsAsync(_storage.Options.KeyPrefix));
    }
}
