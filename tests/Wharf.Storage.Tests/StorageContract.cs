using Wharf.Core.Digests;
using Wharf.Core.Storage;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>
/// What the blob-store and upload-store contract suites share: a way to get stores over this test's own storage
/// (a folder, or a prefix in a bucket), a clock the test moves, and helpers. xunit makes one instance per test,
/// so each test starts with empty storage.
/// </summary>
public abstract class StorageContract : IDisposable
{
    protected const string Repo = "library/alpine";

    protected static readonly CancellationToken None = CancellationToken.None;

    protected ManualTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// A store on this test's storage, using <paramref name="time"/>. Calling it again must give a new instance over
    /// the same storage with nothing shared in memory: a process restart, or another node of a scale-out set.
    /// </summary>
    protected abstract (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time);

    protected (IBlobStore Blobs, IUploadStore Uploads) CreateStore() => CreateStore(Time);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    protected static async Task<UploadResult> UploadAsync(IUploadStore uploads, byte[] content, Digest digest, string repository = Repo)
    {
        var session = await uploads.StartAsync(repository, digest.Algorithm, None);
        var append = await uploads.AppendAsync(session.Id, repository, Body(content), 0, content.Length, None);
        Assert.Equal(UploadStatus.Ok, append.Status);
        return await uploads.CommitAsync(session.Id, repository, digest, None);
    }

    protected static async Task<byte[]> ReadBlobAsync(IBlobStore blobs, Digest digest, long offset = 0, long? length = null)
    {
        await using var stream = await blobs.OpenReadAsync(digest, offset, length, None);
        Assert.NotNull(stream);
        return await ReadAllAsync(stream);
    }

    /// <summary>
    /// The blob has this digest and size, and a last-modified time from the store's own clock (the real one: a store
    /// stamps what it writes as the file system or the S3 server does), so within minutes of now.
    /// </summary>
    protected static void AssertBlob(Digest digest, long size, BlobInfo? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(digest, actual.Digest);
        Assert.Equal(size, actual.Size);
        var age = DateTimeOffset.UtcNow - actual.LastModified;
        Assert.True(age > TimeSpan.FromMinutes(-5) && age < TimeSpan.FromMinutes(5), $"last modified {actual.LastModified:O}, now {DateTimeOffset.UtcNow:O}");
    }
}
