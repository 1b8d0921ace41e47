using Amazon.S3.Model;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Storage.S3;
using Wharf.Testing.Services;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

/// <summary>What is specific to the S3 provider, against the real Ceph RADOS Gateway: layout, races between nodes, clean-up, configuration.</summary>
public sealed class S3BlobStoreTests
{
    private const string Repo = "library/alpine";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly S3Storage _storage = S3Storage.Start();

    private ManualTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    private string Prefix => _storage.Options.KeyPrefix;

    [Fact]
    public async Task Blobs_and_sessions_are_laid_out_as_designed()
    {
        var (_, uploads) = _storage.Create(Time);
        var content = Bytes(9 * 1024 * 1024 + 5);
        var digest = Sha256(content);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content), 0, content.Length, None);

        var during = await _storage.Rgw.ListKeysAsync(Prefix);
        Assert.Contains($"{Prefix}uploads/{session.Id:D}/state/0000000001", during);
        Assert.Equal([$"{Prefix}uploads/{session.Id:D}/data-0"], await _storage.Rgw.ListMultipartUploadsAsync(Prefix));

        Assert.True((await uploads.CommitAsync(session.Id, Repo, digest, None)).IsOk);

        Assert.Equal([$"{Prefix}blobs/sha256/{digest.Hex[..2]}/{digest.Hex}"], await _storage.Rgw.ListKeysAsync(Prefix));
        Assert.Empty(await _storage.Rgw.ListMultipartUploadsAsync(Prefix));
    }

    [Theory]
    [InlineData(0)] // each starts its own multipart upload; the loser's is aborted
    [InlineData(6 * 1024 * 1024)] // both add parts to the session's multipart upload, with the same part numbers
    public async Task Two_nodes_appending_at_the_same_offset_at_once_accept_exactly_one_and_never_store_a_mix(int before)
    {
        var (_, nodeA) = _storage.Create(Time);
        var (blobs, nodeB) = _storage.Create(Time);
        var start = Bytes(before, seed: 6);
        var a = Bytes(6 * 1024 * 1024, seed: 7);
        var b = Bytes(6 * 1024 * 1024, seed: 8);
        var session = await nodeA.StartAsync(Repo, Digest.Sha256, None);
        if (before > 0) await nodeA.AppendAsync(session.Id, Repo, Body(start), 0, before, None);

        var results = await Task.WhenAll(
            Task.Run(() => nodeA.AppendAsync(session.Id, Repo, Body(a), before, a.Length, None)),
            Task.Run(() => nodeB.AppendAsync(session.Id, Repo, Body(b), before, b.Length, None)));

        Assert.Single(results, r => r.Status == UploadStatus.Ok);
        Assert.Single(results, r => r.Status == UploadStatus.RangeMismatch);
        var winner = start.Concat(results[0].IsOk ? a : b).ToArray();
        Assert.Equal(winner.Length, (await nodeB.GetAsync(session.Id, None))!.Offset);
        var failure = await Record.ExceptionAsync(async () =>
        {
            var commit = await nodeA.CommitAsync(session.Id, Repo, Sha256(winner), None);
            Assert.True(commit.IsOk, commit.Status.ToString());
        });
        // When the loser's part overwrote the winner's, completing fails on the winner's recorded ETag: an error for a
        // client that raced itself, never a blob made of both.
        if (failure is null) Assert.Equal(winner, await ReadAllAsync((await blobs.OpenReadAsync(Sha256(winner), 0, null, None))!));
        else Assert.IsType<StorageUnavailableException>(failure);
        if (before == 0) Assert.Null(failure);
    }

    [Fact]
    public async Task An_expired_session_aborts_its_multipart_upload_and_leaves_nothing()
    {
        var (_, uploads) = _storage.Create(Time);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(Bytes(10 * 1024 * 1024)), 0, 10 * 1024 * 1024, None);
        Assert.NotEmpty(await _storage.Rgw.ListMultipartUploadsAsync(Prefix));

        Time.Advance(TimeSpan.FromHours(25));
        Assert.Equal(1, await uploads.ExpireIdleAsync(TimeSpan.FromHours(24), None));

        Assert.Null(await uploads.GetAsync(session.Id, None));
        Assert.Empty(await _storage.Rgw.ListKeysAsync(Prefix));
        Assert.Empty(await _storage.Rgw.ListMultipartUploadsAsync(Prefix));
    }

    [Fact]
    public async Task Multipart_uploads_left_by_a_node_that_died_are_aborted_once_idle()
    {
        using var s3 = _storage.Rgw.CreateClient();
        var digest = Sha256([1, 2, 3]);
        var orphanBlob = await s3.InitiateMultipartUploadAsync(_storage.Rgw.Bucket, $"{Prefix}blobs/sha256/{digest.Hex[..2]}/{digest.Hex}");
        var orphanSession = await s3.InitiateMultipartUploadAsync(_storage.Rgw.Bucket, $"{Prefix}uploads/{Guid.NewGuid():D}/data-0");
        var (_, uploads) = _storage.Create(Time);
        var live = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(live.Id, Repo, Body(Bytes(9 * 1024 * 1024)), 0, 9 * 1024 * 1024, None);

        Assert.Equal(0, await uploads.ExpireIdleAsync(TimeSpan.FromHours(1), None));
        Assert.Equal(3, (await _storage.Rgw.ListMultipartUploadsAsync(Prefix)).Count); // nothing idle yet

        Time.Advance(TimeSpan.FromHours(2));
        await uploads.AppendAsync(live.Id, Repo, Body(Bytes(10)), 9 * 1024 * 1024, 10, None); // the live session stays busy
        Assert.Equal(0, await uploads.ExpireIdleAsync(TimeSpan.FromHours(1), None));

        var left = await _storage.Rgw.ListMultipartUploadsAsync(Prefix);
        Assert.Equal([$"{Prefix}uploads/{live.Id:D}/data-0"], left);
        Assert.NotNull(orphanBlob.UploadId);
        Assert.NotNull(orphanSession.UploadId);
    }

    [Fact]
    public async Task A_session_assembled_by_a_commit_with_another_algorithm_takes_more_chunks()
    {
        var (blobs, uploads) = _storage.Create(Time);
        var first = Bytes(9 * 1024 * 1024 + 1);
        var more = Bytes(100, seed: 3);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(first), 0, first.Length, None);

        // sha512 was never announced: the parts are assembled and read back to hash them.
        var wrong = await uploads.CommitAsync(session.Id, Repo, Sha512(more), None);
        Assert.Equal(UploadStatus.DigestMismatch, wrong.Status);
        Assert.Equal(Sha512(first), wrong.ActualDigest);

        Assert.True((await uploads.AppendAsync(session.Id, Repo, Body(more), first.Length, more.Length, None)).IsOk);
        var content = first.Concat(more).ToArray();
        var commit = await uploads.CommitAsync(session.Id, Repo, Sha512(content), None);
        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadAllAsync((await blobs.OpenReadAsync(Sha512(content), 0, null, None))!));
        Assert.Empty(await _storage.Rgw.ListMultipartUploadsAsync(Prefix));
    }

    [Fact]
    public async Task A_blob_larger_than_one_copy_is_copied_in_parts()
    {
        var storage = S3Storage.Start(configure: o => o.CopyPartLimit = 12 * 1024 * 1024);
        var (blobs, uploads) = storage.Create(Time);
        var content = Bytes(30 * 1024 * 1024 + 7);
        var session = await uploads.StartAsync(Repo, Digest.Sha256, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 0, 20), 0, 20, None);
        await uploads.AppendAsync(session.Id, Repo, Body(content, 20, content.Length - 20), 20, content.Length - 20, None);

        var commit = await uploads.CommitAsync(session.Id, Repo, Sha256(content), None);

        Assert.True(commit.IsOk, commit.ActualDigest?.ToString());
        Assert.Equal(content, await ReadAllAsync((await blobs.OpenReadAsync(Sha256(content), 0, null, None))!));
    }

    [Fact]
    public async Task The_storage_switch_registers_the_S3_stores_and_their_readiness_check()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wharf:Storage:Type"] = "S3",
            ["Wharf:Storage:S3:ServiceUrl"] = _storage.Rgw.Url,
            ["Wharf:Storage:S3:Bucket"] = _storage.Rgw.Bucket,
            ["Wharf:Storage:S3:AccessKey"] = _storage.Rgw.AccessKey,
            ["Wharf:Storage:S3:SecretKey"] = _storage.Rgw.SecretKey,
            ["Wharf:Storage:S3:Prefix"] = Prefix,
        }).Build();
        Assert.Empty(services.AddWharfStorage(configuration, "/nonexistent"));
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<S3BlobStore>(provider.GetRequiredService<IBlobStore>());
        Assert.IsType<S3UploadStore>(provider.GetRequiredService<IUploadStore>());
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(None);
        var (name, entry) = Assert.Single(report.Entries);
        Assert.Equal("storage", name);
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Contains("provider:s3", entry.Tags);
    }

    [Fact]
    public void Invalid_S3_settings_are_listed_together()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wharf:Storage:Type"] = "s3",
            ["Wharf:Storage:S3:ServiceUrl"] = "ftp://127.0.0.1:1",
            ["Wharf:Storage:S3:AccessKey"] = "only-the-key",
            ["Wharf:Storage:S3:RequestChecksum"] = "Always",
            ["Wharf:Storage:S3:PartSize"] = "1000",
        }).Build();

        var problems = new ServiceCollection().AddWharfStorage(configuration, "/nonexistent");

        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.Contains("Bucket is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ServiceUrl 'ftp://127.0.0.1:1'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("AccessKey and SecretKey go together", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("RequestChecksum 'Always'", StringComparison.Ordinal) && p.Contains("WhenRequired", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("PartSize", StringComparison.Ordinal));
    }

    public static TheoryData<string, string> BadConfigurations => new()
    {
        { "secret", "refused Wharf:Storage:S3:AccessKey/SecretKey" },
        { "bucket", "does not exist" },
        { "endpoint", "Cannot reach the S3 server" },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public async Task The_readiness_check_names_what_is_wrong(string what, string expected)
    {
        var options = _storage.Rgw.Options(Prefix);
        switch (what)
        {
            case "secret": options.SecretKey = "not-the-secret"; break;
            case "bucket": options.Bucket = "no-such-bucket-" + Guid.NewGuid().ToString("N")[..12]; break;
            default: options.ServiceUrl = $"http://127.0.0.1:{ClosedPort()}"; break;
        }
        var services = new ServiceCollection().AddLogging().AddS3Storage(options);
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(None);

        var entry = report.Entries["storage"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains(expected, entry.Description, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
