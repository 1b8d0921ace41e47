using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.Core.Digests;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

/// <summary>
/// Blobs and build contexts on a real 8 MiB file system: a write that does not fit is answered in the protocol's error
/// format (507), and nothing of it stays on the disk.
/// </summary>
public sealed class FullDiskTests : IAsyncLifetime
{
    private const int DiskMiB = 8;
    private SmallFilesystem _disk = null!;
    private WharfTestServer _server = null!;
    private HttpClient _http = null!;
    private long _freeAtStart;

    public async Task InitializeAsync()
    {
        _disk = await SmallFilesystem.MountAsync(DiskMiB);
        // Metadata stays on the big disk: it is the blobs and the build contexts that fill this one.
        _server = await WharfTestServer.StartAsync(null, $"--Wharf:Storage:Path={_disk.Path}", $"--Wharf:Builds:Path={Path.Combine(_disk.Path, "builds")}");
        _http = _server.CreateClient();
        _freeAtStart = _disk.Free;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        await _disk.DisposeAsync();
    }

    private static byte[] TooBig() => Random.Shared.GetItems<byte>(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), (DiskMiB + 4) * 1024 * 1024);

    private static async Task AssertStorageFullAsync(HttpResponseMessage response, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0];
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Contains("storage is full", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private void AssertNothingLeft()
    {
        foreach (var folder in new[] { "uploads", "tmp" })
        {
            var dir = Path.Combine(_disk.Path, folder);
            // A session's small info file may stay (the session is kept for a retry); no data does.
            var files = Directory.Exists(dir)
                ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "info" && new FileInfo(f).Length > 0).ToList()
                : [];
            Assert.True(files.Count == 0, string.Join(", ", files));
        }
        Assert.True(_disk.Free >= _freeAtStart - 64 * 1024, $"{_disk.Free} bytes free, {_freeAtStart} before");
    }

    [Fact]
    public async Task A_monolithic_upload_that_does_not_fit_is_507_BLOB_UPLOAD_INVALID_and_leaves_nothing()
    {
        var content = TooBig();
        using var post = await _http.PostAsync("v2/lib/app/blobs/uploads/", null);
        using var put = await _http.PutAsync(WithQuery(post.Headers.Location!, "digest=" + Digest.Compute(content)), Octets(content));

        await AssertStorageFullAsync(put, "BLOB_UPLOAD_INVALID");
        AssertNothingLeft();
        // The session is still there, at its offset, for a retry once there is room.
        using var status = await _http.GetAsync(post.Headers.Location!);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        Assert.Equal("0-0", Header(status, "Range"));
    }

    [Fact]
    public async Task A_single_request_upload_that_does_not_fit_is_507_and_leaves_nothing()
    {
        var content = TooBig();
        using var post = await _http.PostAsync($"v2/lib/app/blobs/uploads/?digest={Digest.Compute(content)}", Octets(content));

        await AssertStorageFullAsync(post, "BLOB_UPLOAD_INVALID");
        AssertNothingLeft();
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_disk.Path, "uploads")));
    }

    [Fact]
    public async Task A_chunk_that_does_not_fit_leaves_the_session_at_its_offset_and_the_upload_can_go_on()
    {
        var first = RandomNumberGeneratorBytes(1024 * 1024);
        using var post = await _http.PostAsync("v2/lib/app/blobs/uploads/", null);
        using var patched = await _http.PatchAsync(post.Headers.Location!, Octets(first));
        Assert.Equal(HttpStatusCode.Accepted, patched.StatusCode);

        using var tooBig = await _http.PatchAsync(patched.Headers.Location!, Octets(TooBig()));
        await AssertStorageFullAsync(tooBig, "BLOB_UPLOAD_INVALID");

        using var status = await _http.GetAsync(patched.Headers.Location!);
        Assert.Equal($"0-{first.Length - 1}", Header(status, "Range"));
        var rest = RandomNumberGeneratorBytes(1000);
        byte[] whole = [.. first, .. rest];
        var digest = Digest.Compute(whole);
        using var put = await _http.PutAsync(WithQuery(patched.Headers.Location!, "digest=" + digest), Octets(rest));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(whole, await _http.GetByteArrayAsync($"v2/lib/app/blobs/{digest}"));
    }

    [Fact]
    public async Task A_build_context_that_does_not_fit_is_507_problem_details_and_leaves_nothing()
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(TooBig());
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "context", "context.tar");
        form.Add(new StringContent("lib/app:1"), "image");

        using var response = await _http.PostAsync("api/v1/builds", form);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(507, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains("storage is full", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var builds = Path.Combine(_disk.Path, "builds");
        Assert.DoesNotContain(Directory.EnumerateFiles(builds, "*", SearchOption.AllDirectories), f => new FileInfo(f).Length > 0);
        Assert.True(_disk.Free >= _freeAtStart - 64 * 1024, $"{_disk.Free} bytes free, {_freeAtStart} before");
    }

    private static byte[] RandomNumberGeneratorBytes(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
}
