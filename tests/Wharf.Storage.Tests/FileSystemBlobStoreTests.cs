using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Storage.FileSystem;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>The contract tests on the filesystem provider, plus what is specific to it (layout on disk, monolithic writes, expiry service, DI).</summary>
public sealed class FileSystemBlobStoreTests : BlobStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly TempFolder _folder = new();
    private readonly List<FileSystemBlobStore> _stores = [];

    protected override (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time)
    {
        var store = NewStore(time);
        return (store, store);
    }

    private FileSystemBlobStore NewStore(TimeProvider? time = null)
    {
        var store = new FileSystemBlobStore(new FileSystemStorageOptions { Path = _folder.Path }, time ?? Time);
        _stores.Add(store);
        return store;
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var store in _stores) store.Dispose();
        _folder.Dispose();
        base.Dispose(disposing);
    }

    private string UploadDir(Guid id) => Path.Combine(_folder.Path, "uploads", id.ToString("D"));

    [Fact]
    public async Task Files_are_laid_out_as_designed()
    {
        var store = NewStore();
        var content = Bytes(1000);
        var digest = Sha256(content);
        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        await store.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);

        var dir = UploadDir(session.Id);
        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(dir, "data")));
        using (var info = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(dir, "info"))))
        {
            Assert.Equal(Repo, info.RootElement.GetProperty("repository").GetString());
            Assert.Equal("sha256", info.RootElement.GetProperty("digestAlgorithm").GetString());
            Assert.Equal(session.StartedAt, info.RootElement.GetProperty("startedAt").GetDateTimeOffset());
            Assert.True(info.RootElement.TryGetProperty("updatedAt", out _));
        }

        Assert.True((await store.CommitAsync(session.Id, Repo, digest, None)).IsOk);

        var blobPath = Path.Combine(_folder.Path, "blobs", "sha256", digest.Hex[..2], digest.Hex);
        Assert.Equal(content, await File.ReadAllBytesAsync(blobPath));
        Assert.False(Directory.Exists(dir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.Path, "uploads")));
    }

    [Fact]
    public async Task SizeInvalid_truncates_the_data_file()
    {
        var store = NewStore();
        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        await store.AppendAsync(session.Id, Repo, Body(Bytes(500)), 0, 500, None);

        var result = await store.AppendAsync(session.Id, Repo, Body(Bytes(3 * 1024 * 1024)), 500, 3 * 1024 * 1024 - 1, None);

        Assert.Equal(UploadStatus.SizeInvalid, result.Status);
        Assert.Equal(500, new FileInfo(Path.Combine(UploadDir(session.Id), "data")).Length);
    }

    [Fact]
    public async Task RangeMismatch_leaves_the_data_file_alone()
    {
        var store = NewStore();
        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        await store.AppendAsync(session.Id, Repo, Body(Bytes(500)), 0, 500, None);
        var before = await File.ReadAllBytesAsync(Path.Combine(UploadDir(session.Id), "data"));

        await store.AppendAsync(session.Id, Repo, Body(Bytes(10, seed: 9)), 0, 10, None);

        Assert.Equal(before, await File.ReadAllBytesAsync(Path.Combine(UploadDir(session.Id), "data")));
    }

    [Fact]
    public async Task A_blob_already_stored_is_not_rewritten()
    {
        var store = NewStore();
        var content = Bytes(100);
        var digest = Sha256(content);
        Assert.True((await store.WriteBlobAsync(Body(content), digest, null, None)).IsOk);
        var blobPath = Path.Combine(_folder.Path, "blobs", "sha256", digest.Hex[..2], digest.Hex);
        var writtenAt = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(blobPath, writtenAt);

        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        await store.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);
        Assert.True((await store.CommitAsync(session.Id, Repo, digest, None)).IsOk);

        Assert.Equal(writtenAt, File.GetLastWriteTimeUtc(blobPath));
        Assert.False(Directory.Exists(UploadDir(session.Id)));
    }

    [Fact]
    public async Task WriteBlob_stores_verified_content_in_one_go()
    {
        var store = NewStore();
        var content = Bytes(2 * 1024 * 1024 + 1);
        var digest = Sha256(content);

        var mismatch = await store.WriteBlobAsync(Body(content), Sha256([1]), null, None);
        Assert.Equal(UploadStatus.DigestMismatch, mismatch.Status);
        Assert.Equal(digest, mismatch.ActualDigest);

        Assert.Equal(UploadStatus.SizeInvalid, (await store.WriteBlobAsync(Body(content), digest, content.Length - 1, None)).Status);
        Assert.Equal(UploadStatus.SizeInvalid, (await store.WriteBlobAsync(Body(content), digest, content.Length + 1, None)).Status);
        Assert.Null(await store.StatAsync(digest, None));

        var ok = await store.WriteBlobAsync(Body(content), digest, content.Length, None);
        Assert.True(ok.IsOk);
        Assert.Equal(new BlobInfo(digest, content.Length), ok.Blob);
        Assert.True((await store.WriteBlobAsync(Body(content), digest, null, None)).IsOk);

        var sha512 = Sha512(content);
        Assert.True((await store.WriteBlobAsync(Body(content), sha512, null, None)).IsOk);
        Assert.Equal(new BlobInfo(sha512, content.Length), await store.StatAsync(sha512, None));

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.Path, "tmp")));
    }

    [Fact]
    public async Task WriteBlob_cleans_up_when_the_client_hangs_up()
    {
        var store = NewStore();
        var digest = Sha256([1, 2, 3]);

        await Assert.ThrowsAsync<IOException>(() =>
            store.WriteBlobAsync(new FailingStream(Bytes(1_500_000), () => new IOException("reset")), digest, null, None));

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.Path, "tmp")));
        Assert.Null(await store.StatAsync(digest, None));
    }

    [Fact]
    public async Task Listing_ignores_stray_files()
    {
        var store = NewStore();
        var content = Bytes(10);
        var digest = Sha256(content);
        await store.WriteBlobAsync(Body(content), digest, null, None);
        var prefixDir = Path.Combine(_folder.Path, "blobs", "sha256", digest.Hex[..2]);
        await File.WriteAllTextAsync(Path.Combine(prefixDir, "not-a-digest"), "x");
        await File.WriteAllTextAsync(Path.Combine(prefixDir, new string('a', 64)), "wrong prefix folder");
        Directory.CreateDirectory(Path.Combine(_folder.Path, "blobs", "md5", "ab"));

        var listed = new List<BlobInfo>();
        await foreach (var blob in store.ListAsync(None)) listed.Add(blob);

        Assert.Equal([new BlobInfo(digest, content.Length)], listed);
    }

    [Fact]
    public async Task A_session_whose_info_file_is_gone_is_unknown_and_expires()
    {
        var store = NewStore();
        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        File.Delete(Path.Combine(UploadDir(session.Id), "info"));
        Directory.SetLastWriteTimeUtc(UploadDir(session.Id), DateTime.UtcNow.AddDays(-2));

        Assert.Null(await store.GetAsync(session.Id, None));
        Assert.Equal(UploadStatus.Unknown, (await store.AppendAsync(session.Id, Repo, Body([1]), null, null, None)).Status);

        // Judged by the folder's own time, which is two real days old.
        Assert.Equal(1, await store.ExpireIdleAsync(TimeSpan.FromDays(1), None));
        Assert.False(Directory.Exists(UploadDir(session.Id)));
    }

    [Fact]
    public async Task Default_digest_and_unsupported_algorithms_are_rejected()
    {
        var store = NewStore();
        await Assert.ThrowsAsync<ArgumentException>(() => store.StatAsync(default, None).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => store.StartAsync(Repo, "md5", None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.StartAsync(Repo, "../../etc", None));
    }

    [Fact]
    public async Task The_expiry_service_removes_idle_sessions()
    {
        var store = NewStore();
        var options = new FileSystemStorageOptions { Path = _folder.Path, UploadIdleTimeout = TimeSpan.FromHours(1) };
        var service = new UploadExpiryService(store, options, NullLogger<UploadExpiryService>.Instance, Time);
        var session = await store.StartAsync(Repo, Digest.Sha256, None);

        Assert.Equal(0, await service.ExpireOnceAsync(None));
        Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(1, await service.ExpireOnceAsync(None));
        Assert.Null(await store.GetAsync(session.Id, None));
    }

    [Fact]
    public async Task The_expiry_service_runs_on_start_and_stops_cleanly()
    {
        var store = NewStore();
        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        Time.Advance(TimeSpan.FromDays(2));
        var options = new FileSystemStorageOptions { Path = _folder.Path };
        using var service = new UploadExpiryService(store, options, NullLogger<UploadExpiryService>.Instance, Time);

        await service.StartAsync(None);
        for (var i = 0; i < 100 && await store.GetAsync(session.Id, None) is not null; i++) await Task.Delay(50);
        await service.StopAsync(None);

        Assert.Null(await store.GetAsync(session.Id, None));
    }

    [Fact]
    public void AddFileSystemStorage_registers_one_store_for_both_interfaces()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddFileSystemStorage(new FileSystemStorageOptions { Path = _folder.Path });
        using var provider = services.BuildServiceProvider();

        var blobs = provider.GetRequiredService<IBlobStore>();
        var uploads = provider.GetRequiredService<IUploadStore>();

        Assert.IsType<FileSystemBlobStore>(blobs);
        Assert.Same(blobs, uploads);
        Assert.Same(blobs, provider.GetRequiredService<FileSystemBlobStore>());
        Assert.Contains(provider.GetServices<IHostedService>(), s => s is UploadExpiryService);
    }

    [Fact]
    public void Invalid_options_are_refused()
    {
        Assert.Throws<InvalidOperationException>(() => new FileSystemBlobStore(new FileSystemStorageOptions { Path = " " }));
        Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddFileSystemStorage(
            new FileSystemStorageOptions { Path = _folder.Path, UploadIdleTimeout = TimeSpan.Zero }));
    }
}

public sealed class DirectorySyncTests
{
    [Fact]
    public void Directories_are_fsynced_on_unix()
    {
        using var folder = new TempFolder();
        Assert.Equal(!OperatingSystem.IsWindows(), DirectorySync.Flush(folder.Path));
        Assert.False(DirectorySync.Flush(Path.Combine(folder.Path, "missing")));
    }
}
