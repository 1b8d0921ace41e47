using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Microsoft.Extensions.Configuration;
using Wharf.Storage.FileSystem;
using Wharf.Storage.Uploads;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>Stores over one temp folder; each call to <see cref="Create"/> is another process on the same folder.</summary>
public sealed class FileSystemStorage : IDisposable
{
    private readonly List<FileSystemBlobStore> _stores = [];

    public TempFolder Folder { get; } = new();

    public FileSystemBlobStore Create(TimeProvider time)
    {
        var store = new FileSystemBlobStore(new FileSystemStorageOptions { Path = Folder.Path }, time);
        _stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _stores) store.Dispose();
        Folder.Dispose();
    }
}

public sealed class FileSystemBlobStoreContractTests : BlobStoreContractTests
{
    private readonly FileSystemStorage _storage = new();

    protected override bool HandsOutDownloadUrls => false;

    protected override (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time)
    {
        var store = _storage.Create(time);
        return (store, store);
    }

    protected override void Dispose(bool disposing)
    {
        _storage.Dispose();
        base.Dispose(disposing);
    }
}

public sealed class FileSystemUploadStoreContractTests : UploadStoreContractTests
{
    private readonly FileSystemStorage _storage = new();

    protected override bool ReadsWhileWriting => true;

    protected override Task AssertNothingLeftAsync()
    {
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_storage.Folder.Path, "uploads")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_storage.Folder.Path, "tmp")));
        return Task.CompletedTask;
    }

    protected override (IBlobStore Blobs, IUploadStore Uploads) CreateStore(TimeProvider time)
    {
        var store = _storage.Create(time);
        return (store, store);
    }

    protected override void Dispose(bool disposing)
    {
        _storage.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>What is specific to the file-system provider: layout on disk, monolithic writes, expiry service, DI.</summary>
public sealed class FileSystemBlobStoreTests : IDisposable
{
    private const string Repo = "library/alpine";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly FileSystemStorage _storage = new();
    private readonly TempFolder _folder;

    public FileSystemBlobStoreTests() => _folder = _storage.Folder;

    private ManualTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private FileSystemBlobStore NewStore() => _storage.Create(Time);

    public void Dispose() => _storage.Dispose();

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
    public async Task A_blob_already_stored_keeps_its_file_and_counts_as_just_uploaded()
    {
        var store = NewStore();
        var content = Bytes(100);
        var digest = Sha256(content);
        Assert.True((await store.WriteAsync(digest, Body(content), null, None)).IsOk);
        var blobPath = Path.Combine(_folder.Path, "blobs", "sha256", digest.Hex[..2], digest.Hex);
        var writtenAt = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(blobPath, writtenAt);
        var inode = Inode(blobPath);

        var session = await store.StartAsync(Repo, Digest.Sha256, None);
        await store.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);
        Assert.True((await store.CommitAsync(session.Id, Repo, digest, None)).IsOk);

        // The same file (not replaced by the upload's copy), its time moved to now so that garbage collection's grace
        // period counts from this upload.
        var stored = await store.StatAsync(digest, None);
        Assert.Equal(inode, Inode(blobPath));
        Assert.True(stored!.LastModified > DateTimeOffset.UtcNow.AddMinutes(-5), stored.LastModified.ToString("O"));
        Assert.False(Directory.Exists(UploadDir(session.Id)));
    }

    [Fact]
    public async Task WriteBlob_stores_verified_content_in_one_go()
    {
        var store = NewStore();
        var content = Bytes(2 * 1024 * 1024 + 1);
        var digest = Sha256(content);

        var mismatch = await store.WriteAsync(Sha256([1]), Body(content), null, None);
        Assert.Equal(UploadStatus.DigestMismatch, mismatch.Status);
        Assert.Equal(digest, mismatch.ActualDigest);

        Assert.Equal(UploadStatus.SizeInvalid, (await store.WriteAsync(digest, Body(content), content.Length - 1, None)).Status);
        Assert.Equal(UploadStatus.SizeInvalid, (await store.WriteAsync(digest, Body(content), content.Length + 1, None)).Status);
        Assert.Null(await store.StatAsync(digest, None));

        var ok = await store.WriteAsync(digest, Body(content), content.Length, None);
        Assert.True(ok.IsOk);
        Assert.Equal((digest, (long)content.Length), (ok.Blob!.Digest, ok.Blob.Size));
        Assert.True((await store.WriteAsync(digest, Body(content), null, None)).IsOk);

        var sha512 = Sha512(content);
        Assert.True((await store.WriteAsync(sha512, Body(content), null, None)).IsOk);
        var stat = await store.StatAsync(sha512, None);
        Assert.Equal((sha512, (long)content.Length), (stat!.Digest, stat.Size));

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.Path, "tmp")));
    }

    [Fact]
    public async Task WriteBlob_cleans_up_when_the_client_hangs_up()
    {
        var store = NewStore();
        var digest = Sha256([1, 2, 3]);

        await Assert.ThrowsAsync<IOException>(() =>
            store.WriteAsync(digest, new FailingStream(Bytes(1_500_000), () => new IOException("reset")), null, None));

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.Path, "tmp")));
        Assert.Null(await store.StatAsync(digest, None));
    }

    [Fact]
    public async Task Listing_ignores_stray_files()
    {
        var store = NewStore();
        var content = Bytes(10);
        var digest = Sha256(content);
        await store.WriteAsync(digest, Body(content), null, None);
        var prefixDir = Path.Combine(_folder.Path, "blobs", "sha256", digest.Hex[..2]);
        await File.WriteAllTextAsync(Path.Combine(prefixDir, "not-a-digest"), "x");
        await File.WriteAllTextAsync(Path.Combine(prefixDir, new string('a', 64)), "wrong prefix folder");
        Directory.CreateDirectory(Path.Combine(_folder.Path, "blobs", "md5", "ab"));

        var listed = new List<BlobInfo>();
        await foreach (var blob in store.ListAsync(None)) listed.Add(blob);

        Assert.Equal([(digest, (long)content.Length)], listed.Select(b => (b.Digest, b.Size)));
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
        var service = new UploadExpiryService(store, new UploadExpiryOptions(TimeSpan.FromHours(1), TimeSpan.FromMinutes(1)), NullLogger<UploadExpiryService>.Instance, Time);
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
        using var service = new UploadExpiryService(store, UploadExpiryOptions.Default, NullLogger<UploadExpiryService>.Instance, Time);

        await service.StartAsync(None);
        for (var i = 0; i < 100 && await store.GetAsync(session.Id, None) is not null; i++) await Task.Delay(50);
        await service.StopAsync(None);

        Assert.Null(await store.GetAsync(session.Id, None));
    }

    [Fact]
    public void The_storage_switch_registers_one_file_system_store_for_both_interfaces_and_the_expiry()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wharf:Storage:Type"] = "filesystem",
            ["Wharf:Storage:Path"] = _folder.Path,
            ["Wharf:Registry:UploadIdleTimeout"] = "02:00:00",
        }).Build();
        Assert.Empty(services.AddWharfStorage(configuration, "/nonexistent-data-dir"));
        using var provider = services.BuildServiceProvider();

        var blobs = provider.GetRequiredService<IBlobStore>();
        var uploads = provider.GetRequiredService<IUploadStore>();

        var store = Assert.IsType<FileSystemBlobStore>(blobs);
        Assert.Same(blobs, uploads);
        Assert.Equal(_folder.Path, store.RootPath);
        Assert.Contains(provider.GetServices<IHostedService>(), s => s is UploadExpiryService);
        Assert.Equal(TimeSpan.FromHours(2), provider.GetRequiredService<UploadExpiryOptions>().IdleTimeout);
    }

    [Fact]
    public void The_storage_switch_lists_every_problem_and_registers_nothing()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wharf:Storage:Type"] = "Tape",
            ["Wharf:Storage:UploadExpiryInterval"] = "00:00:00",
        }).Build();

        var problems = services.AddWharfStorage(configuration, _folder.Path);

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("Wharf:Storage:Type 'Tape'", StringComparison.Ordinal) && p.Contains("FileSystem", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Wharf:Storage:UploadExpiryInterval", StringComparison.Ordinal));
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IBlobStore));
    }

    [Fact]
    public void Invalid_options_are_refused()
    {
        Assert.Throws<InvalidOperationException>(() => new FileSystemBlobStore(new FileSystemStorageOptions { Path = " " }));
    }

    /// <summary>The file's inode number (GNU stat): the same number means the same file, not a replacement.</summary>
    private static string Inode(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return output;
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
