using Wharf.Core.Digests;
using Wharf.Core.Storage;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>
/// Behaviour every <see cref="IUploadStore"/> provider must have: resumable sessions, verified commits, restarts and
/// other nodes continuing a session, bounded memory. A provider's test class derives from this and implements
/// <see cref="StorageContract.CreateStore(TimeProvider)"/>.
/// </summary>
public abstract class UploadStoreContractTests : StorageContract
{
    /// <summary>
    /// Most bytes one upload may allocate whatever its size: the provider's pooled buffers and per-request overhead.
    /// Default 16 MiB (the file system copies through two 1 MiB buffers).
    /// </summary>
    protected virtual long UploadAllocationBound => 16L * 1024 * 1024;

    [Fact]
    public async Task Another_node_continues_a_session_at_every_chunk()
    {
        var (blobsA, nodeA) = CreateStore();
        var (blobsB, nodeB) = CreateStore();
        var content = Bytes(13 * 1024 * 1024 + 5);
        var digest = Sha256(content);
        var session = await nodeA.StartAsync(Repo, Digest.Sha256, None);

        // Chunks of every kind of size: tiny, under and over S3's 5 MiB part minimum, odd.
        int[] cuts = [0, 1, 100_000, 5 * 1024 * 1024 + 7, 6 * 1024 * 1024, 12 * 1024 * 1024 + 1, content.Length];
        for (var i = 0; i < cuts.Length - 1; i++)
        {
            var (writer, reader) = i % 2 == 0 ? (nodeB, nodeA) : (nodeA, nodeB);
            var count = cuts[i + 1] - cuts[i];
            var appended = await writer.AppendAsync(session.Id, Repo, Body(content, cuts[i], count), cuts[i], count, None);
            Assert.Equal(UploadStatus.Ok, appended.Status);
            Assert.Equal(cuts[i + 1], (await reader.GetAsync(session.Id, None))!.Offset);
            // The other node refuses a chunk at a stale offset, as the one that took it would.
            Assert.Equal(UploadStatus.RangeMismatch, (await reader.AppendAsync(session.Id, Repo, Body(content, cuts[i], count), cuts[i], count, None)).Status);
        }

        var commit = await nodeB.CommitAsync(session.Id, Repo, digest, None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobsA, digest));
        AssertBlob(digest, content.Length, await blobsB.StatAsync(digest, None));
        Assert.Null(await nodeA.GetAsync(session.Id, None));
        Assert.Equal(UploadStatus.Unknown, (await nodeA.CommitAsync(session.Id, Repo, digest, None)).Status);
    }

    [Fact]
    public async Task A_session_committed_on_one_node_with_the_wrong_digest_is_still_whole_on_another()
    {
        var (_, nodeA) = CreateStore();
        var (blobsB, nodeB) = CreateStore();
        var content = Bytes(6 * 1024 * 1024 + 3);
        var session = await nodeA.StartAsync(Repo, Digest.Sha256, None);
        Assert.True((await nodeA.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None)).IsOk);

        var wrong = await nodeA.CommitAsync(session.Id, Repo, Sha256([1]), None);
        Assert.Equal(UploadStatus.DigestMismatch, wrong.Status);

        var commit = await nodeB.CommitAsync(session.Id, Repo, Sha256(content), None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobsB, Sha256(content)));
    }

    [Fact]
    public async Task A_large_chunked_upload_allocates_a_bounded_amount_whatever_its_size()
    {
        const long size = 72L * 1024 * 1024;
        var (blobs, uploads) = CreateStore();
        var digest = await GeneratingStream.DigestOfAsync(size);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        // One stream cut into chunks of uneven sizes, as clients send them.
        var source = new GeneratingStream(size);
        long[] chunkSizes = [1, 3 * 1024 * 1024 + 11, 256 * 1024, 20L * 1024 * 1024, 9 * 1024 * 1024 - 3];

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long offset = 0;
        for (var i = 0; offset < size; i++)
        {
            var count = Math.Min(chunkSizes[i % chunkSizes.Length], size - offset);
            var appended = await uploads.AppendAsync(session.Id, Repo, new LimitedStream(source, count), offset, count, None);
            Assert.Equal(UploadStatus.Ok, appended.Status);
            offset += count;
        }
        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        AssertBlob(digest, size, await blobs.StatAsync(digest, None));
        Assert.True(allocated < UploadAllocationBound, $"allocated {allocated} bytes for a {size}-byte chunked upload (bound {UploadAllocationBound})");
    }


    [Fact]
    public async Task Upload_in_one_append_then_commit_stores_the_blob_and_ends_the_session()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(3000);
        var digest = Sha256(content);

        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        Assert.Equal(0, session.Offset);
        Assert.Equal(Repo, session.Repository);
        Assert.Equal(Digest.Sha256, session.DigestAlgorithm);

        var append = await uploads.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);
        Assert.Equal(UploadStatus.Ok, append.Status);
        Assert.Equal(content.Length, append.Session!.Offset);

        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);
        Assert.True(commit.IsOk);
        AssertBlob(digest, content.Length, commit.Blob);

        AssertBlob(digest, content.Length, await blobs.StatAsync(digest, None));
        Assert.Equal(content, await ReadBlobAsync(blobs, digest));
        Assert.Null(await uploads.GetAsync(session.Id, None));
        Assert.Equal(UploadStatus.Unknown, (await uploads.CommitAsync(session.Id, Repo, digest, None)).Status);
    }

    [Fact]
    public async Task Empty_upload_commits_the_empty_blob()
    {
        var (blobs, uploads) = CreateStore();
        var digest = Sha256([]);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);

        Assert.True(commit.IsOk);
        AssertBlob(digest, 0, await blobs.StatAsync(digest, None));
    }

    [Fact]
    public async Task Chunked_appends_accumulate_and_commit()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(3 * 1024 * 1024 + 17);
        var digest = Sha256(content);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        int[] cuts = [0, 10, 1024 * 1024 + 5, 2 * 1024 * 1024, content.Length];
        for (var i = 0; i < cuts.Length - 1; i++)
        {
            var count = cuts[i + 1] - cuts[i];
            var result = await uploads.AppendAsync(session.Id, Repo, Body(content, cuts[i], count), cuts[i], count, None);
            Assert.Equal(UploadStatus.Ok, result.Status);
            Assert.Equal(cuts[i + 1], result.Session!.Offset);
            Assert.Equal(cuts[i + 1], (await uploads.GetAsync(session.Id, None))!.Offset);
        }

        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);
        Assert.True(commit.IsOk);
        Assert.Equal(content, await ReadBlobAsync(blobs, digest));
    }

    [Fact]
    public async Task Appends_without_offset_or_length_are_accepted()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(5000);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 2000), null, null, None)).IsOk);
        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(content, 2000, 3000), null, null, None)).IsOk);

        Assert.True((await uploads.CommitAsync(session.Id, Repo, Sha256(content), None)).IsOk);
        Assert.Equal(content, await ReadBlobAsync(blobs, Sha256(content)));
    }

    [Fact]
    public async Task Offset_mismatch_is_RangeMismatch_and_writes_nothing()
    {
        var (_, uploads) = CreateStore();
        var content = Bytes(100);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 50), 0, 50, None);

        foreach (var wrong in new long[] { 0, 49, 51, 1000 })
        {
            var result = await uploads.AppendAsync(session.Id, Repo, Body(content, 50, 50), wrong, 50, None);
            Assert.Equal(UploadStatus.RangeMismatch, result.Status);
            Assert.Equal(50, result.Session!.Offset);
        }
        Assert.Equal(50, (await uploads.GetAsync(session.Id, None))!.Offset);

        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(content, 50, 50), 50, 50, None)).IsOk);
        Assert.True((await uploads.CommitAsync(session.Id, Repo, Sha256(content), None)).IsOk);
    }

    [Theory]
    [InlineData(1000, 999)] // body longer than declared
    [InlineData(1000, 1001)] // body shorter than declared
    [InlineData(3 * 1024 * 1024, 3 * 1024 * 1024 - 1)] // longer, noticed after whole buffers were written
    [InlineData(3 * 1024 * 1024, 3 * 1024 * 1024 + 1)] // shorter, noticed at the end
    public async Task Body_length_differing_from_declared_is_SizeInvalid_and_keeps_the_previous_offset(int bodyLength, long declared)
    {
        var (blobs, uploads) = CreateStore();
        var first = Bytes(700, seed: 2);
        var body = Bytes(bodyLength, seed: 3);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(first), 0, first.Length, None);

        var result = await uploads.AppendAsync(session.Id, Repo, Body(body), first.Length, declared, None);

        Assert.Equal(UploadStatus.SizeInvalid, result.Status);
        Assert.Equal(first.Length, (await uploads.GetAsync(session.Id, None))!.Offset);

        // The session is still good: resend correctly, and the digest covers only what was accepted.
        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(body), first.Length, body.Length, None)).IsOk);
        var content = first.Concat(body).ToArray();
        var commit = await uploads.CommitAsync(session.Id, Repo, Sha256(content), None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobs, Sha256(content)));
    }

    [Fact]
    public async Task Digest_mismatch_reports_the_actual_digest_and_keeps_the_session()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(4096);
        var wrong = Sha256(Bytes(10));
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);

        var result = await uploads.CommitAsync(session.Id, Repo, wrong, None);

        Assert.Equal(UploadStatus.DigestMismatch, result.Status);
        Assert.Equal(Sha256(content), result.ActualDigest);
        Assert.Null(await blobs.StatAsync(wrong, None));
        Assert.Null(await blobs.StatAsync(Sha256(content), None));
        Assert.Equal(content.Length, (await uploads.GetAsync(session.Id, None))!.Offset);

        // A retry with the right digest succeeds.
        Assert.True((await uploads.CommitAsync(session.Id, Repo, Sha256(content), None)).IsOk);
    }

    [Theory]
    [InlineData(Digest.Sha512, Digest.Sha512)]
    [InlineData(Digest.Sha256, Digest.Sha512)] // announced sha256, committed with sha512: hashed again
    [InlineData(Digest.Sha512, Digest.Sha256)]
    public async Task Commit_verifies_with_the_digest_algorithm_given(string startedWith, string committedWith)
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(2 * 1024 * 1024 + 3);
        var digest = Hash(content, committedWith);
        var session = await uploads.StartAsync(Repo, startedWith, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 1000), 0, 1000, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 1000, content.Length - 1000), 1000, content.Length - 1000, None);

        var wrong = await uploads.CommitAsync(session.Id, Repo, Hash(Bytes(5), committedWith), None);
        Assert.Equal(UploadStatus.DigestMismatch, wrong.Status);
        Assert.Equal(digest, wrong.ActualDigest);

        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);
        Assert.True(commit.IsOk);
        AssertBlob(digest, content.Length, await blobs.StatAsync(digest, None));
        Assert.Equal(content, await ReadBlobAsync(blobs, digest));
    }

    [Fact]
    public async Task Uploading_an_existing_blob_again_succeeds_and_keeps_one_copy()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(1234);
        var digest = Sha256(content);

        Assert.True((await UploadAsync(uploads, content, digest)).IsOk);
        var again = await UploadAsync(uploads, content, digest, "other/repo");

        Assert.True(again.IsOk);
        AssertBlob(digest, content.Length, again.Blob);
        Assert.Equal(content, await ReadBlobAsync(blobs, digest));
        var listed = new List<BlobInfo>();
        await foreach (var blob in blobs.ListAsync(None)) listed.Add(blob);
        Assert.Equal([(digest, (long)content.Length)], listed.Select(b => (b.Digest, b.Size)));
    }

    [Fact]
    public async Task A_session_survives_a_restart_and_resumes_from_its_offset()
    {
        var content = Bytes(3 * 1024 * 1024 + 99);
        var digest = Sha256(content);
        Guid id;
        {
            var (_, uploads) = CreateStore();
            var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
            id = session.Id;
            await uploads.AppendAsync(id, Repo, Body(content, 0, 1_500_000), 0, 1_500_000, None);
        }

        var (blobs, restarted) = CreateStore();
        var resumed = await restarted.GetAsync(id, None);
        Assert.NotNull(resumed);
        Assert.Equal(1_500_000, resumed.Offset);
        Assert.Equal(Repo, resumed.Repository);

        var rest = content.Length - 1_500_000;
        Assert.Equal(UploadStatus.RangeMismatch, (await restarted.AppendAsync(id, Repo, Body(content, 0, 10), 0, 10, None)).Status);
        Assert.True((await restarted.AppendAsync(id, Repo, Body(content, 1_500_000, rest), 1_500_000, rest, None)).IsOk);
        var commit = await restarted.CommitAsync(id, Repo, digest, None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobs, digest));
    }

    [Fact]
    public async Task A_session_can_be_committed_right_after_a_restart()
    {
        var content = Bytes(200_000);
        Guid id;
        {
            var (_, uploads) = CreateStore();
            id = (await uploads.StartAsync(Repo, Digest.Sha256, None)).Id;
            await uploads.AppendAsync(id, Repo, Body(content), 0, content.Length, None);
        }

        var (blobs, restarted) = CreateStore();
        var commit = await restarted.CommitAsync(id, Repo, Sha256(content), None);

        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.NotNull(await blobs.StatAsync(Sha256(content), None));
    }

    [Fact]
    public async Task Cancel_ends_the_session()
    {
        var (_, uploads) = CreateStore();
        var content = Bytes(100);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);

        Assert.True(await uploads.CancelAsync(session.Id, Repo, None));

        Assert.Null(await uploads.GetAsync(session.Id, None));
        Assert.False(await uploads.CancelAsync(session.Id, Repo, None));
        Assert.Equal(UploadStatus.Unknown, (await uploads.AppendAsync(session.Id, Repo, Body(content), null, null, None)).Status);
        Assert.Equal(UploadStatus.Unknown, (await uploads.CommitAsync(session.Id, Repo, Sha256(content), None)).Status);
    }

    [Fact]
    public async Task Unknown_sessions_are_Unknown()
    {
        var (_, uploads) = CreateStore();
        var id = Guid.NewGuid();

        Assert.Null(await uploads.GetAsync(id, None));
        Assert.Equal(UploadStatus.Unknown, (await uploads.AppendAsync(id, Repo, Body([1, 2]), 0, 2, None)).Status);
        Assert.Equal(UploadStatus.Unknown, (await uploads.CommitAsync(id, Repo, Sha256([]), None)).Status);
        Assert.False(await uploads.CancelAsync(id, Repo, None));
    }

    [Fact]
    public async Task A_client_hanging_up_mid_body_leaves_the_session_at_its_previous_offset()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(4 * 1024 * 1024);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 1000), 0, 1000, None);

        // More than one buffer arrives before the connection drops, so some bytes hit the disk first.
        var partial = content.AsSpan(1000, 2_500_000).ToArray();
        await Assert.ThrowsAsync<IOException>(() =>
            uploads.AppendAsync(session.Id, Repo, new FailingStream(partial, () => new IOException("connection reset")), 1000, content.Length - 1000, None));
        Assert.Equal(1000, (await uploads.GetAsync(session.Id, None))!.Offset);

        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            uploads.AppendAsync(session.Id, Repo, new FailingStream(partial, () => { cts.Cancel(); return new OperationCanceledException(cts.Token); }), 1000, null, cts.Token));
        Assert.Equal(1000, (await uploads.GetAsync(session.Id, None))!.Offset);

        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(content, 1000, content.Length - 1000), 1000, content.Length - 1000, None)).IsOk);
        var commit = await uploads.CommitAsync(session.Id, Repo, Sha256(content), None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobs, Sha256(content)));
    }

    [Fact]
    public async Task Idle_sessions_expire()
    {
        var (_, uploads) = CreateStore();
        var idle = await uploads.StartAsync(Repo, Digest.Sha256, None);
        var active = await uploads.StartAsync(Repo, Digest.Sha256, None);

        Time.Advance(TimeSpan.FromMinutes(90));
        Assert.True((await uploads.AppendAsync(active.Id, Repo, Body([1, 2, 3]), 0, 3, None)).IsOk);
        Time.Advance(TimeSpan.FromMinutes(30));

        Assert.Equal(1, await uploads.ExpireIdleAsync(TimeSpan.FromHours(1), None));

        Assert.Null(await uploads.GetAsync(idle.Id, None));
        Assert.Equal(UploadStatus.Unknown, (await uploads.AppendAsync(idle.Id, Repo, Body([1]), null, null, None)).Status);
        var kept = await uploads.GetAsync(active.Id, None);
        Assert.NotNull(kept);
        Assert.Equal(3, kept.Offset);
        Assert.Equal(Time.GetUtcNow() - TimeSpan.FromMinutes(30), kept.UpdatedAt);
        Assert.Equal(0, await uploads.ExpireIdleAsync(TimeSpan.FromHours(1), None));
    }

    [Fact]
    public async Task A_session_belongs_to_its_repository()
    {
        var (blobs, uploads) = CreateStore();
        var content = Bytes(100);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 50), 0, 50, None);

        Assert.Equal(UploadStatus.WrongRepository, (await uploads.AppendAsync(session.Id, "evil/repo", Body(content, 50, 50), 50, 50, None)).Status);
        Assert.Equal(UploadStatus.WrongRepository, (await uploads.CommitAsync(session.Id, "evil/repo", Sha256(content), None)).Status);
        Assert.False(await uploads.CancelAsync(session.Id, "evil/repo", None));

        var got = await uploads.GetAsync(session.Id, None);
        Assert.NotNull(got);
        Assert.Equal(Repo, got.Repository);
        Assert.Equal(50, got.Offset);
        Assert.Null(await blobs.StatAsync(Sha256(content), None));

        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(content, 50, 50), 50, 50, None)).IsOk);
        Assert.True((await uploads.CommitAsync(session.Id, Repo, Sha256(content), None)).IsOk);
    }

    [Fact]
    public async Task A_large_blob_streams_through_without_being_buffered_whole()
    {
        const long size = 64L * 1024 * 1024;
        var (blobs, uploads) = CreateStore();
        var digest = await GeneratingStream.DigestOfAsync(size);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var append = await uploads.AppendAsync(session.Id, Repo, new GeneratingStream(size), 0, size, None);
        var commit = await uploads.CommitAsync(session.Id, Repo, digest, None);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.True(append.IsOk);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        AssertBlob(digest, size, await blobs.StatAsync(digest, None));
        Assert.True(allocated < UploadAllocationBound, $"allocated {allocated} bytes for a {size}-byte blob (bound {UploadAllocationBound})");

        await using var stream = await blobs.OpenReadAsync(digest, 0, null, None);
        Assert.NotNull(stream);
        Assert.Equal(digest, await GeneratingStream.HashAsync(stream));
    }

    [Fact]
    public async Task Concurrent_appends_to_one_session_do_not_interleave()
    {
        var (blobs, uploads) = CreateStore();
        var a = Bytes(300_000, seed: 5);
        var b = Bytes(200_000, seed: 6);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        var gatedA = new GatedStream(a);
        var first = uploads.AppendAsync(session.Id, Repo, gatedA, null, a.Length, None);
        await gatedA.ReadStarted.WaitAsync(TimeSpan.FromSeconds(10));

        var gatedB = new GatedStream(b);
        gatedB.Open();
        var second = uploads.AppendAsync(session.Id, Repo, gatedB, null, b.Length, None);
        await Task.Delay(200);
        Assert.False(gatedB.ReadStarted.IsCompleted, "the second append read its body while the first was still writing");
        Assert.False(second.IsCompleted);

        gatedA.Open();
        Assert.True((await first).IsOk);
        var secondResult = await second;
        Assert.True(secondResult.IsOk);
        Assert.Equal(a.Length + b.Length, secondResult.Session!.Offset);

        var content = a.Concat(b).ToArray();
        var commit = await uploads.CommitAsync(session.Id, Repo, Sha256(content), None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadBlobAsync(blobs, Sha256(content)));
    }

    [Fact]
    public async Task Concurrent_appends_at_the_same_offset_accept_exactly_one()
    {
        var (_, uploads) = CreateStore();
        var a = Bytes(100_000, seed: 7);
        var b = Bytes(100_000, seed: 8);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);

        var results = await Task.WhenAll(
            Task.Run(() => uploads.AppendAsync(session.Id, Repo, Body(a), 0, a.Length, None)),
            Task.Run(() => uploads.AppendAsync(session.Id, Repo, Body(b), 0, b.Length, None)));

        Assert.Single(results, r => r.Status == UploadStatus.Ok);
        Assert.Single(results, r => r.Status == UploadStatus.RangeMismatch);
        var winner = results[0].IsOk ? a : b;
        Assert.Equal(100_000, (await uploads.GetAsync(session.Id, None))!.Offset);
        Assert.True((await uploads.CommitAsync(session.Id, Repo, Sha256(winner), None)).IsOk);
    }
}
