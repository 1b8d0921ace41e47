using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Wharf.Bench;

/// <summary>The few OCI distribution calls the benchmark needs, over one HttpClient, bodies always streamed.</summary>
public sealed class RegistryClient : IDisposable
{
    private const int IoBuffer = 1 << 20;
    private static readonly MediaTypeHeaderValue Octet = new("application/octet-stream");
    private readonly HttpClient _http;
    private readonly Uri _base;

    public RegistryClient(Uri registry, TimeSpan requestTimeout)
    {
        if (!IPAddress.TryParse(registry.Host, out var ip) || !IPAddress.IsLoopback(ip))
        {
            throw new ArgumentException($"only loopback registries are allowed, got {registry}");
        }

        _base = registry;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = true,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        };
        _http = new HttpClient(handler) { Timeout = requestTimeout };
        // BENCH_AUTH=1 runs Wharf with accounts: bench/run sets "user:password" here (a registry without auth ignores it).
        if (Environment.GetEnvironmentVariable("BENCH_BASIC_AUTH") is { Length: > 0 } basic)
        {
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)));
        }
    }

    public void Dispose() => _http.Dispose();

    private Uri V2(string path) => new(_base, "/v2/" + path);

    /// <summary>POST /v2/&lt;repo&gt;/blobs/uploads/ and return the absolute upload location.</summary>
    public async Task<Uri> StartUploadAsync(string repo, CancellationToken ct)
    {
        var uri = V2($"{repo}/blobs/uploads/");
        using var req = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent([]) };
        using var resp = await _http.SendAsync(req, ct);
        await ExpectAsync(resp, HttpStatusCode.Accepted, "POST upload", ct);
        return Location(resp, uri);
    }

    /// <summary>POST then PUT ?digest= with the whole file as the body.</summary>
    public async Task UploadMonolithicAsync(string repo, BlobFile blob, CancellationToken ct)
    {
        var location = await StartUploadAsync(repo, ct);
        await using var file = OpenRead(blob.Path);
        using var content = new StreamContent(file, IoBuffer);
        content.Headers.ContentType = Octet;
        content.Headers.ContentLength = blob.Size;
        using var req = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, blob.Digest)) { Content = content };
        using var resp = await _http.SendAsync(req, ct);
        await ExpectAsync(resp, HttpStatusCode.Created, "PUT monolithic", ct);
    }

    /// <summary>
    /// POST, PATCH chunks with Content-Range following each new Location, then PUT ?digest= with no body. With
    /// <paramref name="otherNode"/>, every second PATCH (and the PUT when it falls there) goes to that node instead: the
    /// upload continues across nodes, as behind a load balancer without sticky sessions.
    /// </summary>
    public async Task<int> UploadChunkedAsync(string repo, BlobFile blob, int chunkSize, CancellationToken ct, Uri? otherNode = null)
    {
        var location = await StartUploadAsync(repo, ct);
        var buffer = new byte[chunkSize];
        using var handle = File.OpenHandle(blob.Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long offset = 0;
        var chunks = 0;
        while (offset < blob.Size)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer, offset, ct);
            if (n <= 0)
            {
                throw new IOException($"short read from {blob.Path} at {offset}");
            }

            using var content = new ReadOnlyMemoryContent(buffer.AsMemory(0, n));
            content.Headers.ContentType = Octet;
            content.Headers.ContentLength = n;
            using var req = new HttpRequestMessage(HttpMethod.Patch, OnNode(location, chunks, otherNode)) { Content = content };
            req.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + n - 1}");
            using var resp = await _http.SendAsync(req, ct);
            await ExpectAsync(resp, HttpStatusCode.Accepted, $"PATCH chunk {chunks}", ct);
            location = Location(resp, location);
            offset += n;
            chunks++;
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, WithDigest(OnNode(location, chunks, otherNode), blob.Digest)) { Content = new ByteArrayContent([]) };
        put.Content.Headers.ContentType = Octet;
        using var putResp = await _http.SendAsync(put, ct);
        await ExpectAsync(putResp, HttpStatusCode.Created, "PUT closing chunked upload", ct);
        return chunks;
    }

    /// <summary>HEAD the blob and check it exists with the right length.</summary>
    public async Task VerifyBlobAsync(string repo, BlobFile blob, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Head, V2($"{repo}/blobs/{blob.Digest}"));
        using var resp = await _http.SendAsync(req, ct);
        await ExpectAsync(resp, HttpStatusCode.OK, "HEAD blob", ct);
        var length = resp.Content.Headers.ContentLength;
        if (length != blob.Size)
        {
            throw new BenchException($"HEAD blob: Content-Length {length}, expected {blob.Size}");
        }
    }

    /// <summary>GET the whole blob, discarding it (or hashing it when <paramref name="verify"/>); returns bytes read.</summary>
    public async Task<long> DownloadAsync(string repo, BlobFile blob, bool verify, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, V2($"{repo}/blobs/{blob.Digest}"));
        using var resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
        await ExpectAsync(resp, HttpStatusCode.OK, "GET blob", ct);
        await using var body = await resp.Content.ReadAsStreamAsync(ct);
        using var hash = verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var buffer = new byte[IoBuffer];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer, ct)) > 0)
        {
            hash?.AppendData(buffer, 0, n);
            total += n;
        }

        if (total != blob.Size)
        {
            throw new BenchException($"GET blob: read {total} bytes, expected {blob.Size}");
        }

        if (hash is not null)
        {
            var got = "sha256:" + Convert.ToHexStringLower(hash.GetCurrentHash());
            if (got != blob.Digest)
            {
                throw new BenchException($"GET blob: body hashes to {got}, expected {blob.Digest}");
            }
        }

        return total;
    }

    /// <summary>GET with Range: bytes=first-last; returns status, Content-Range and whether the body matches the file.</summary>
    public async Task<RangeResult> RangeAsync(string repo, BlobFile blob, long first, long last, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, V2($"{repo}/blobs/{blob.Digest}"));
        req.Headers.Range = new RangeHeaderValue(first, last);
        var sw = Stopwatch.StartNew();
        using var resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
        var body = await resp.Content.ReadAsByteArrayAsync(ct);
        sw.Stop();
        var expected = new byte[last - first + 1];
        using (var handle = File.OpenHandle(blob.Path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            RandomAccess.Read(handle, expected, first);
        }

        var contentRange = resp.Content.Headers.ContentRange?.ToString();
        var ok = resp.StatusCode == HttpStatusCode.PartialContent
            && contentRange == $"bytes {first}-{last}/{blob.Size}"
            && body.AsSpan().SequenceEqual(expected);
        return new RangeResult(first, last, (int)resp.StatusCode, contentRange, body.Length, ok, sw.Elapsed.TotalMilliseconds);
    }

    /// <summary>PUT a manifest by tag (or digest); returns the digest the registry reports.</summary>
    public async Task<string?> PutManifestAsync(string repo, string reference, byte[] manifest, string mediaType, CancellationToken ct)
    {
        using var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var req = new HttpRequestMessage(HttpMethod.Put, V2($"{repo}/manifests/{reference}")) { Content = content };
        using var resp = await _http.SendAsync(req, ct);
        await ExpectAsync(resp, HttpStatusCode.Created, "PUT manifest", ct);
        return resp.Headers.TryGetValues("Docker-Content-Digest", out var v) ? v.FirstOrDefault() : null;
    }

    /// <summary>GET a manifest with the given Accept; returns the status, the Content-Type and the body's digest.</summary>
    public async Task<(int Status, string? ContentType, string Digest)> GetManifestAsync(string repo, string reference, string accept, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, V2($"{repo}/manifests/{reference}"));
        req.Headers.Accept.ParseAdd(accept);
        using var resp = await _http.SendAsync(req, ct);
        var body = await resp.Content.ReadAsByteArrayAsync(ct);
        return ((int)resp.StatusCode, resp.Content.Headers.ContentType?.MediaType, Digests.Sha256(body));
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, IoBuffer, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private static Uri Location(HttpResponseMessage resp, Uri requestUri)
    {
        var location = resp.Headers.Location ?? throw new BenchException($"{(int)resp.StatusCode} response to {requestUri} has no Location");
        return location.IsAbsoluteUri ? location : new Uri(requestUri, location);
    }

    /// <summary>The request's URL on this client's node for even steps, on <paramref name="otherNode"/> (when given) for odd ones.</summary>
    private Uri OnNode(Uri location, int step, Uri? otherNode)
    {
        var node = otherNode is not null && step % 2 == 1 ? otherNode : _base;
        return new UriBuilder(location) { Host = node.Host, Port = node.Port }.Uri;
    }

        private static Uri WithDigest(Uri location, string digest)
    {
        var s = location.ToString();
        return new Uri(s + (s.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest));
    }

    private static async Task ExpectAsync(HttpResponseMessage resp, HttpStatusCode expected, string what, CancellationToken ct)
    {
        if (resp.StatusCode == expected)
        {
            return;
        }

        var body = await resp.Content.ReadAsStringAsync(ct);
        if (body.Length > 500)
        {
            body = body[..500];
        }

        throw new BenchException($"{what}: HTTP {(int)resp.StatusCode} (expected {(int)expected}) from {resp.RequestMessage?.Method} {resp.RequestMessage?.RequestUri}: {body}");
    }
}

public sealed record RangeResult(long First, long Last, int Status, string? ContentRange, int Bytes, bool Ok, double Milliseconds);

public sealed class BenchException(string message) : Exception(message);
