using System.Net;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Wharf.Storage.FileSystem;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Operations.Tests;

/// <summary><c>/healthz</c> and <c>/readyz</c> against a real server whose database (a SQLite file, a PostgreSQL database) or blob store (a folder, an S3 bucket) is taken away.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Readyz_names_each_provider_and_answers_200_when_all_are_usable()
    {
        await using var server = await WharfTestServer.StartAsync();
        using var http = server.CreateClient();
        var (status, body) = await GetAsync(http, "readyz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", body["status"]!.GetValue<string>());
        Assert.Equal("sqlite", body["checks"]!["database"]!["provider"]!.GetValue<string>());
        Assert.Equal("filesystem", body["checks"]!["storage"]!["provider"]!.GetValue<string>());
        Assert.Empty(body["failing"]!.AsArray());
    }

    [Fact]
    public async Task Readyz_answers_503_naming_the_database_when_its_file_is_replaced()
    {
        await using var server = await WharfTestServer.StartAsync();
        using var http = server.CreateClient();
        (await http.PutAsync("v2/health/app/manifests/v1", new ByteArrayContent([]))).Dispose(); // warm the connection pool
        var database = Path.Combine(server.DataDir, "wharf.db");
        foreach (var sidecar in (string[])["-wal", "-shm"]) File.Delete(database + sidecar);
        File.Delete(database);
        Directory.CreateDirectory(database); // root ignores file modes: a folder where the file was fails for everyone

        var (status, body) = await GetAsync(http, "readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(["database"], body["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("unhealthy", body["checks"]!["database"]!["status"]!.GetValue<string>());
        Assert.Contains("cannot be read", body["checks"]!["database"]!["description"]!.GetValue<string>());
        Assert.Equal("healthy", body["checks"]!["storage"]!["status"]!.GetValue<string>());
        var (liveness, _) = await GetAsync(http, "healthz");
        Assert.Equal(HttpStatusCode.OK, liveness);
    }

    [Fact]
    public async Task Readyz_answers_503_naming_the_blob_store_when_its_folder_is_unusable()
    {
        await using var server = await WharfTestServer.StartAsync();
        using var http = server.CreateClient();
        var blobs = Path.Combine(server.DataDir, "blobs");
        Directory.Delete(blobs, recursive: true);
        await File.WriteAllTextAsync(blobs, "not a folder");

        var (status, body) = await GetAsync(http, "readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(["storage"], body["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("filesystem", body["checks"]!["storage"]!["provider"]!.GetValue<string>());
        Assert.Equal("healthy", body["checks"]!["database"]!["status"]!.GetValue<string>());

        // Back in order, ready again.
        File.Delete(blobs);
        Directory.CreateDirectory(blobs);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "readyz")).Status);
    }

    [Fact]
    public async Task Readyz_answers_503_naming_postgresql_when_the_database_is_dropped_after_start_up()
    {
        var database = await PostgresService.CreateDatabaseAsync(migrated: true);
        try
        {
            await using var server = await WharfTestServer.StartAsync(null,
                "--Wharf:Database:Type=PostgreSql", $"--Wharf:Database:ConnectionString={database.ConnectionString}");
            using var http = server.CreateClient();
            var (ready, before) = await GetAsync(http, "readyz");
            Assert.True(ready == HttpStatusCode.OK, before.ToJsonString());
            Assert.Equal("postgresql", before["checks"]!["database"]!["provider"]!.GetValue<string>());

            await database.DisposeAsync(); // DROP DATABASE … WITH (FORCE): the server's pooled connections are closed too

            // The first probe may meet a pooled connection the drop closed ("cannot reach"); the next ones open afresh
            // and hear that the database is gone. Every probe answers 503 naming the database.
            string description;
            var probes = 0;
            while (true)
            {
                var (status, body) = await GetAsync(http, "readyz");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                Assert.Equal(["database"], body["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
                Assert.Equal("postgresql", body["checks"]!["database"]!["provider"]!.GetValue<string>());
                Assert.Equal("healthy", body["checks"]!["storage"]!["status"]!.GetValue<string>());
                description = body["checks"]!["database"]!["description"]!.GetValue<string>();
                if (description.Contains("does not exist", StringComparison.Ordinal) || ++probes == 5) break;
            }
            Assert.Contains($"database \"{database.Name}\" does not exist", description, StringComparison.Ordinal);
            Assert.Contains("PostgreSQL at ", description, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "healthz")).Status);
        }
        finally
        {
            await database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Readyz_answers_503_naming_s3_when_the_bucket_is_deleted_after_start_up_and_200_once_it_is_back()
    {
        var rgw = await CephRgwService.GetAsync();
        using var s3 = rgw.CreateClient();
        var bucket = $"wharf-readyz-{Guid.NewGuid():N}"[..32];
        await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        try
        {
            await using var server = await WharfTestServer.StartAsync(null, rgw.ServerArgs("readyz/", bucket));
            using var http = server.CreateClient();
            var (ready, before) = await GetAsync(http, "readyz");
            Assert.True(ready == HttpStatusCode.OK, before.ToJsonString());
            Assert.Equal("s3", before["checks"]!["storage"]!["provider"]!.GetValue<string>());

            await EmptyAndDeleteAsync(s3, bucket);

            var (status, body) = await GetAsync(http, "readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Equal(["storage"], body["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Equal("s3", body["checks"]!["storage"]!["provider"]!.GetValue<string>());
            Assert.Contains($"'{bucket}' does not exist", body["checks"]!["storage"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("healthy", body["checks"]!["database"]!["status"]!.GetValue<string>());

            await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "readyz")).Status);
        }
        finally
        {
            await EmptyAndDeleteAsync(s3, bucket);
        }
    }

    private static async Task EmptyAndDeleteAsync(Amazon.S3.IAmazonS3 s3, string bucket)
    {
        try
        {
            var listing = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
            foreach (var o in listing.S3Objects ?? []) await s3.DeleteObjectAsync(bucket, o.Key);
            await s3.DeleteBucketAsync(bucket);
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            // Already gone.
        }
    }

    [Fact]
    public async Task Readyz_gives_up_on_a_check_after_the_configured_timeout()
    {
        await using var server = await WharfTestServer.StartAsync(null, "--Wharf:Health:Timeout=00:00:00.300");
        using var http = server.CreateClient();
        // The file the storage probe writes becomes a named pipe nobody reads: opening it for writing blocks, as a
        // hung disk or network mount would.
        var probe = FileSystemHealthCheck.ProbePath(server.DataDir);
        await ExternalTool.RunCheckedAsync("mkfifo", [probe]);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, body) = await GetAsync(http, "readyz");
        clock.Stop();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(["storage"], body["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Contains("timeout", body["checks"]!["storage"]!["description"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"readyz took {clock.Elapsed}");

        // While the probe hangs, the next check fails on time too.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(http, "readyz")).Status);

        // A reader comes: the abandoned probe ends (and removes its pipe), and the store is ready again.
        await using (var reader = new FileStream(probe, FileMode.Open, FileAccess.Read))
        {
            _ = await reader.ReadAtLeastAsync(new byte[16], 1, throwOnEndOfStream: false);
        }
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await GetAsync(http, "readyz")).Status != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "readyz")).Status);
    }

    private static async Task<(HttpStatusCode Status, JsonNode Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }
}
