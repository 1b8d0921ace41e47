using Wharf.Core.Digests;
using Wharf.Core.Storage;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>
/// Behaviour every <see cref="IBlobStore"/> provider must have: stat with size and time, ranged forward-only reads,
/// download URLs when the provider hands them out, delete, list. Blobs get in through the provider's upload store.
/// </summary>
public abstract class BlobStoreContractTests : StorageContract
{
    /// <summary>Whether this store, as the test configured it, answers <see cref="IBlobStore.GetDownloadUrlAsync"/> with a URL.</summary>
    protected abstract bool HandsOutDownloadUrls { get; }

    [Fact]
    public async Task Stat_gives_the_size_and_the_time_it_was_stored()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(3000);
        var digest = Sha256(content);
        var commit = await UploadAsync(uploads, content, digest);

        AssertBlob(digest, content.Length, commit.Blob);
        var stat = await blobs.StatAsync(digest, None);
        AssertBlob(digest, content.Length, stat);
        // Second precision at least: S3 servers round to the second.
        Assert.True((stat!.LastModified - commit.Blob!.LastModified).Duration() < TimeSpan.FromSeconds(2));
    }

    [Theory]
    [InlineData(0, -1)] // the whole blob (-1: no length, to the end)
    [InlineData(0, 1)]
    [InlineData(1_000_000, 4096)] // inside
    [InlineData(2_500_000, -1)] // from an offset to the end
    [InlineData(3_000_000, 1000)] // the last bytes exactly
    [InlineData(2_999_999, 1)]
    [InlineData(2_999_000, 50_000)] // a range running past the end ends with the blob
    [InlineData(3_000_000, -1)] // at the end: nothing
    [InlineData(123, 0)] // an empty range
    public async Task A_ranged_read_gives_exactly_those_bytes(int offset, int length)
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(3_001_000);
        var digest = Sha256(content);
        await UploadAsync(uploads, content, digest);

        var read = await ReadBlobAsync(blobs, digest, offset, length < 0 ? null : length);

        var end = length < 0 ? content.Length : Math.Min(content.Length, offset + length);
        Assert.Equal(content.AsSpan(offset, end - offset).ToArray(), read);
    }

    [Fact]
    public async Task A_read_is_a_forward_only_stream_that_small_reads_walk_through()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(200_000);
        var digest = Sha256(content);
        await UploadAsync(uploads, content, digest);

        await using var stream = await blobs.OpenReadAsync(digest, 100, 150_000, None);
        Assert.NotNull(stream);
        Assert.True(stream.CanRead);
        using var copy = new MemoryStream();
        var buffer = new byte[777];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) copy.Write(buffer, 0, n);
        Assert.Equal(content.AsSpan(100, 150_000).ToArray(), copy.ToArray());
        Assert.Equal(0, await stream.ReadAsync(buffer));
    }

    [Fact]
    public async Task An_offset_beyond_the_blob_is_refused()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(100);
        var digest = Sha256(content);
        await UploadAsync(uploads, content, digest);

        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () =>
        {
            await using var stream = await blobs.OpenReadAsync(digest, 101, null, None);
        });
        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(async () =>
        {
            await using var stream = await blobs.OpenReadAsync(digest, -1, null, None);
        });
    }

    [Fact]
    public async Task The_empty_blob_reads_as_nothing()
    {
        var (blobs, uploads) = CreateStore();
        var digest = Sha256([]);
        await UploadAsync(uploads, [], digest);

        AssertBlob(digest, 0, await blobs.StatAsync(digest, None));
        Assert.Empty(await ReadBlobAsync(blobs, digest));
        Assert.Empty(await ReadBlobAsync(blobs, digest, 0, 0));
    }

    [Fact]
    public async Task A_large_blob_reads_in_ranges_without_being_buffered_whole()
    {
        const long size = 48L * 1024 * 1024;
        var (blobs, uploads) = CreateStore();
        var digest = await GeneratingStream.DigestOfAsync(size);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        Assert.True((await uploads.AppendAsync(session.Id, Repo, new GeneratingStream(size), 0, size, None)).IsOk);
        Assert.True((await uploads.CommitAsync(session.Id, Repo, digest, None)).IsOk);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using var hash = Digest.CreateHash(Digest.Sha256);
        var buffer = new byte[1024 * 1024];
        const long half = size / 2 + 12345;
        foreach (var (offset, length) in new[] { (0L, (long?)half), (half, (long?)null) })
        {
            await using var stream = await blobs.OpenReadAsync(digest, offset, length, None);
            Assert.NotNull(stream);
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0) hash.AppendData(buffer, 0, n);
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(digest, Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()));
        Assert.True(allocated < 16L * 1024 * 1024, $"allocated {allocated} bytes reading a {size}-byte blob");
    }

    [Fact]
    public async Task A_download_url_when_handed_out_serves_the_blob()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(70_000);
        var digest = Sha256(content);
        await UploadAsync(uploads, content, digest);

        var url = await blobs.GetDownloadUrlAsync(digest, None);

        if (!HandsOutDownloadUrls)
        {
            Assert.Null(url);
            return;
        }
        Assert.NotNull(url);
        Assert.True(url.IsAbsoluteUri);
        Assert.True(System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(url.Host)), url.ToString());
        using var http = new HttpClient();
        Assert.Equal(content, await http.GetByteArrayAsync(url));
        using var ranged = new HttpRequestMessage(HttpMethod.Get, url);
        ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        using var response = await http.SendAsync(ranged);
        Assert.Equal(System.Net.HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(content.AsSpan(10, 10).ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Missing_blobs_are_null()
    {
        var (blobs, _) = CreateStore();
        var digest = Sha256([9, 9, 9]);

        Assert.Null(await blobs.StatAsync(digest, None));
        Assert.Null(await blobs.OpenReadAsync(digest, 0, null, None));
        Assert.False(await blobs.DeleteAsync(digest, None));
    }

    [Fact]
    public async Task Delete_removes_a_blob()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(10);
        var digest = Sha256(content);
        await UploadAsync(uploads, content, digest);

        Assert.True(await blobs.DeleteAsync(digest, None));

        Assert.Null(await blobs.StatAsync(digest, None));
        Assert.Null(await blobs.OpenReadAsync(digest, 0, null, None));
        Assert.False(await blobs.DeleteAsync(digest, None));
        // and it can be stored again
        Assert.True((await UploadAsync(uploads, content, digest)).IsOk);
    }

    [Fact]
    public async Task A_batch_delete_removes_the_stored_blobs_named_and_reports_which_were_stored()
    {
        var (blobs, uploads) = CreateStore();
        var stored = new List<Digest>();
        for (var i = 0; i < 3; i++)
        {
            var content = Bytes(20 + i, seed: 40 + i);
            var digest = i == 2 ? Sha512(content) : Sha256(content);
            await UploadAsync(uploads, content, digest);
            stored.Add(digest);
        }
        var kept = Bytes(30, seed: 50);
        await UploadAsync(uploads, kept, Sha256(kept));
        var missing = Sha256([7, 7, 7]);

        var removed = await blobs.DeleteManyAsync([.. stored, missing], None);

        Assert.Equal(stored.Select(d => d.ToString()).Order(), removed.Select(d => d.ToString()).Order());
        foreach (var digest in stored) Assert.Null(await blobs.StatAsync(digest, None));
        Assert.Equal(kept, await ReadBlobAsync(blobs, Sha256(kept)));
        Assert.Empty(await blobs.DeleteManyAsync([.. stored, missing], None));
        Assert.Empty(await blobs.DeleteManyAsync([], None));
    }

    [Fact]
    public async Task List_returns_every_stored_blob()
    {
        var (blobs, uploads) = CreateStore();
        var expected = new List<(Digest, long)>();
        for (var i = 0; i < 5; i++)
        {
            var content = Bytes(100 + i, seed: 10 + i);
            var digest = i == 4 ? Sha512(content) : Sha256(content);
            await UploadAsync(uploads, content, digest);
            expected.Add((digest, content.Length));
        }
        // An upload in progress is not a blob.
        var pending = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(pending.Id, Repo, Body([1, 2, 3]), 0, 3, None);

        var listed = new List<BlobInfo>();
        await foreach (var blob in blobs.ListAsync(None)) listed.Add(blob);

        Assert.Equal(expected.OrderBy(b => b.Item1.ToString()), listed.Select(b => (b.Digest, b.Size)).OrderBy(b => b.Digest.ToString()));
        foreach (var blob in listed) AssertBlob(blob.Digest, blob.Size, blob);
    }
}
