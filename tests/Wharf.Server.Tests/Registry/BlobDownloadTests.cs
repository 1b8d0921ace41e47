using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Storage.FileSystem;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

/// <summary>Blob GETs as HTTP caches and resuming clients use them: ranges read only what they need, conditional requests.</summary>
public sealed class BlobDownloadTests : IAsyncLifetime
{
    private readonly CountingBlobStore.Counter _counter = new();
    private WharfTestServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartWithServicesAsync(services =>
            services.AddSingleton<IBlobStore>(sp => new CountingBlobStore(sp.GetRequiredService<FileSystemBlobStore>(), _counter)));
        _http = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(Digest Digest, byte[] Content)> PushAsync(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        var digest = await new RegistryClient(_http).PushBlobAsync("lib/app", content);
        return (digest, content);
    }

    private HttpRequestMessage Get(Digest digest, Action<HttpRequestHeaders>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"v2/lib/app/blobs/{digest}");
        headers?.Invoke(request.Headers);
        return request;
    }

    [Fact]
    public async Task A_range_of_a_large_blob_reads_only_that_range_from_the_store()
    {
        var (digest, content) = await PushAsync(32 * 1024 * 1024);
        _counter.Reset();

        using var response = await _http.SendAsync(Get(digest, h => h.Range = new RangeHeaderValue(20_000_000, 20_999_999)));

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(content.AsSpan(20_000_000, 1_000_000).ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal($"bytes 20000000-20999999/{content.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(1_000_000, _counter.BytesRead);
        Assert.Equal([(20_000_000L, (long?)1_000_000L)], _counter.Opened);
    }

    [Fact]
    public async Task A_whole_blob_is_streamed_from_the_store_once()
    {
        var (digest, content) = await PushAsync(5 * 1024 * 1024 + 3);
        _counter.Reset();

        using var response = await _http.SendAsync(Get(digest));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes", string.Join(",", response.Headers.AcceptRanges));
        Assert.Equal(content.Length, _counter.BytesRead);
    }

    [Fact]
    public async Task Several_ranges_a_foreign_If_Range_or_another_unit_get_the_whole_blob()
    {
        var (digest, content) = await PushAsync(1000);

        using var several = await _http.SendAsync(Get(digest, h => h.TryAddWithoutValidation("Range", "bytes=0-9,20-29")));
        using var foreign = await _http.SendAsync(Get(digest, h =>
        {
            h.Range = new RangeHeaderValue(0, 9);
            h.TryAddWithoutValidation("If-Range", "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"");
        }));
        using var dated = await _http.SendAsync(Get(digest, h =>
        {
            h.Range = new RangeHeaderValue(0, 9);
            h.TryAddWithoutValidation("If-Range", "Wed, 21 Oct 2015 07:28:00 GMT");
        }));
        using var items = await _http.SendAsync(Get(digest, h => h.TryAddWithoutValidation("Range", "items=0-9")));
        using var garbage = await _http.SendAsync(Get(digest, h => h.TryAddWithoutValidation("Range", "bytes=nine-ten")));

        foreach (var response in new[] { several, foreign, dated, items, garbage })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task If_Range_with_the_blobs_own_tag_gets_the_range()
    {
        var (digest, content) = await PushAsync(1000);

        using var response = await _http.SendAsync(Get(digest, h =>
        {
            h.Range = new RangeHeaderValue(990, null);
            h.TryAddWithoutValidation("If-Range", $"\"{digest}\"");
        }));

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(content[990..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task If_None_Match_with_the_digest_is_304_without_a_body()
    {
        var (digest, _) = await PushAsync(1000);
        _counter.Reset();

        using var response = await _http.SendAsync(Get(digest, h => h.TryAddWithoutValidation("If-None-Match", $"W/\"other\", \"{digest}\"")));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal($"\"{digest}\"", response.Headers.ETag?.ToString());
        Assert.Empty(_counter.Opened);
    }

    [Fact]
    public async Task A_range_on_the_empty_blob_is_416_and_a_GET_of_it_is_empty()
    {
        var digest = await new RegistryClient(_http).PushBlobAsync("lib/app", []);

        using var whole = await _http.SendAsync(Get(digest));
        using var ranged = await _http.SendAsync(Get(digest, h => h.Range = new RangeHeaderValue(null, 5)));

        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Empty(await whole.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, ranged.StatusCode);
        Assert.Equal("bytes */0", ranged.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task A_linked_blob_gone_from_storage_is_BLOB_UNKNOWN()
    {
        var (digest, _) = await PushAsync(1000);
        File.Delete(Path.Combine(_server.DataDir, "blobs", "sha256", digest.Hex[..2], digest.Hex));

        using var response = await _http.SendAsync(Get(digest));

        await AssertErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    /// <summary>An <see cref="IBlobStore"/> that counts what is opened and read through it.</summary>
    private sealed class CountingBlobStore(IBlobStore inner, CountingBlobStore.Counter counter) : IBlobStore
    {
        public sealed class Counter
        {
            private long _bytes;
            public long BytesRead => Interlocked.Read(ref _bytes);
            public List<(long Offset, long? Length)> Opened { get; } = [];
            public void Add(int n) => Interlocked.Add(ref _bytes, n);
            public void Reset()
            {
                Interlocked.Exchange(ref _bytes, 0);
                lock (Opened) Opened.Clear();
            }
        }

        public ValueTask<BlobInfo?> StatAsync(Digest digest, CancellationToken cancellationToken) => inner.StatAsync(digest, cancellationToken);

        public async ValueTask<Stream?> OpenReadAsync(Digest digest, long offset, long? length, CancellationToken cancellationToken)
        {
            lock (counter.Opened) counter.Opened.Add((offset, length));
            var stream = await inner.OpenReadAsync(digest, offset, length, cancellationToken);
            return stream is null ? null : new CountingStream(stream, counter);
        }

        public ValueTask<Uri?> GetDownloadUrlAsync(Digest digest, CancellationToken cancellationToken) => inner.GetDownloadUrlAsync(digest, cancellationToken);
        public ValueTask<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken) => inner.DeleteAsync(digest, cancellationToken);
        public ValueTask<IReadOnlySet<Digest>> DeleteManyAsync(IReadOnlyCollection<Digest> digests, CancellationToken cancellationToken) => inner.DeleteManyAsync(digests, cancellationToken);
        public IAsyncEnumerable<BlobInfo> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

        private sealed class CountingStream(Stream inner, Counter counter) : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Count(await inner.ReadAsync(buffer, cancellationToken));
            public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
            public override ValueTask DisposeAsync() => inner.DisposeAsync();

            private int Count(int n)
            {
                counter.Add(n);
                return n;
            }
        }
    }
}
