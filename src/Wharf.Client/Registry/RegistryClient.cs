using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Wharf.Client.Credentials;
using Wharf.Core;
using Wharf.Core.Digests;

namespace Wharf.Client.Registry;

/// <summary>A manifest as the registry stores it: the raw bytes (never re-serialized), its media type and digest.</summary>
public sealed record RegistryManifest(byte[] Content, string MediaType, Digest Digest);

/// <summary>What the registry said about a manifest on HEAD.</summary>
public sealed record ManifestHead(Digest Digest, string MediaType, long Size);

/// <summary>How a blob got into the repository.</summary>
public enum BlobUploadOutcome
{
    /// <summary>The repository already had it (HEAD); nothing was sent.</summary>
    Existed,
    /// <summary>The registry linked it from another repository (cross-repository mount); nothing was sent.</summary>
    Mounted,
    /// <summary>Its bytes were uploaded.</summary>
    Uploaded,
}

/// <summary>
/// A client of the OCI distribution API (<c>/v2/</c>) for one registry. Answers auth challenges itself
/// (<see cref="RegistryAuthHandler"/>); errors become <see cref="RegistryException"/> (the OCI error envelope) or
/// <see cref="WharfClientException"/> with <see cref="ClientErrorKind.Unreachable"/> when the server cannot be reached.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    /// <summary>Blobs up to this size go in one PUT; bigger ones stream in one PATCH, then a PUT without a body.</summary>
    public const long MonolithicLimit = 16L * 1024 * 1024;

    private const int MaxManifestBytes = 4 * 1024 * 1024;

    public static readonly string ManifestAccept = string.Join(", ",
        MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest);

    private readonly HttpClient _http;
    private readonly RegistryAuthHandler _auth;

    public RegistryClient(Uri server, RegistryCredential? credential, HttpMessageHandler? transport = null)
    {
        Server = server;
        transport ??= new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            AutomaticDecompression = DecompressionMethods.None,
        };
        _auth = new RegistryAuthHandler(credential, transport);
        _http = new HttpClient(_auth) { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("wharf", "1.0"));
    }

    public Uri Server { get; }

    private string Shown => Server.ToString().TrimEnd('/');

    /// <summary>True once the registry asked for credentials (a login check that saw no challenge proved nothing).</summary>
    public bool RequiresAuthentication => _auth.Challenged;

    /// <summary>Reports the body bytes actually sent for blob uploads (for "nothing was uploaded" checks and summaries).</summary>
    public long BytesUploaded => Interlocked.Read(ref _bytesUploaded);

    private long _bytesUploaded;

    public static string PullScope(string repository) => $"repository:{repository}:pull";
    public static string PushScope(string repository) => $"repository:{repository}:pull,push";
    public static string DeleteScope(string repository) => $"repository:{repository}:delete";

    /// <summary><c>GET /v2/</c>: checks that the server is a registry and that the credentials (if any) are accepted.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "v2/"), "", cancellationToken);
        await EnsureSuccessAsync(response, "the registry", cancellationToken);
    }

    public async Task<ManifestHead?> HeadManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => Request(HttpMethod.Head, $"v2/{repository}/manifests/{reference}", ManifestAccept), PullScope(repository), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, $"{repository}:{reference}", repository, Intent.Pull, cancellationToken);
        var digest = DigestHeader(response) ?? throw new WharfClientException(ClientErrorKind.Failure, "The registry answered HEAD without a Docker-Content-Digest header.");
        return new ManifestHead(digest, response.Content.Headers.ContentType?.MediaType ?? "", response.Content.Headers.ContentLength ?? 0);
    }

    public async Task<RegistryManifest> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => Request(HttpMethod.Get, $"v2/{repository}/manifests/{reference}", ManifestAccept), PullScope(repository), cancellationToken);
        await EnsureSuccessAsync(response, $"{repository}:{reference}", repository, Intent.Pull, cancellationToken);
        if (response.Content.Headers.ContentLength > MaxManifestBytes)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The manifest of {repository}:{reference} is larger than {MaxManifestBytes} bytes.");
        }
        var content = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var digest = Digest.Compute(content);
        if (Digest.TryParse(reference, out var asked) && asked != digest)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The registry sent a manifest whose digest {digest} is not the {asked} asked for.");
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? MediaTypes.OciManifest;
        return new RegistryManifest(content, mediaType, digest);
    }

    /// <summary><c>PUT /v2/NAME/manifests/REF</c> with the raw bytes; returns the digest the registry reports.</summary>
    public async Task<Digest> PutManifestAsync(string repository, string reference, byte[] content, string mediaType, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"v2/{repository}/manifests/{reference}") { Content = new ByteArrayContent(content) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return request;
        }, PushScope(repository), cancellationToken);
        await EnsureSuccessAsync(response, $"{repository}:{reference}", repository, Intent.Push, cancellationToken);
        return DigestHeader(response) ?? Digest.Compute(content);
    }

    /// <summary>Deletes a manifest by digest (a tag is resolved with HEAD first, so the image goes, as <c>wharf rm</c> means).</summary>
    public async Task<Digest> DeleteManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        if (!Digest.TryParse(reference, out var digest))
        {
            var head = await HeadManifestAsync(repository, reference, cancellationToken)
                ?? throw new RegistryException(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN", $"{repository}:{reference} does not exist on {Shown}.");
            digest = head.Digest;
        }
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"v2/{repository}/manifests/{digest}"), DeleteScope(repository), cancellationToken);
        await EnsureSuccessAsync(response, $"{repository}@{digest}", repository, Intent.Delete, cancellationToken);
        return digest;
    }

    /// <summary>
    /// Removes one tag (<c>DELETE /v2/NAME/manifests/TAG</c>); a registry that cannot delete tags (the reference registry)
    /// gets the manifest deleted by digest instead. Returns the digest the tag named.
    /// </summary>
    public async Task<Digest> DeleteTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        var head = await HeadManifestAsync(repository, tag, cancellationToken)
            ?? throw new RegistryException(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN", $"{repository}:{tag} does not exist on {Shown}.");
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"v2/{repository}/manifests/{tag}"), DeleteScope(repository), cancellationToken);
        if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed)
        {
            return await DeleteManifestAsync(repository, head.Digest.ToString(), cancellationToken);
        }
        await EnsureSuccessAsync(response, $"{repository}:{tag}", repository, Intent.Delete, cancellationToken);
        return head.Digest;
    }

    public Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken cancellationToken) =>
        BlobExistsAsync(repository, digest, Intent.Pull, cancellationToken);

    /// <summary>HEAD of a blob; before a push it asks for the push scope at once, so a refusal is about pushing.</summary>
    private async Task<bool> BlobExistsAsync(string repository, Digest digest, Intent intent, CancellationToken cancellationToken)
    {
        var scope = intent == Intent.Push ? PushScope(repository) : PullScope(repository);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}"), scope, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, $"{repository}@{digest}", repository, intent, cancellationToken);
        return true;
    }

    /// <summary>Opens a blob for reading; the caller disposes the stream (which releases the response).</summary>
    public async Task<Stream> OpenBlobAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/blobs/{digest}"), PullScope(repository), cancellationToken,
            HttpCompletionOption.ResponseHeadersRead);
        try
        {
            await EnsureSuccessAsync(response, $"{repository}@{digest}", repository, Intent.Pull, cancellationToken);
            return new ResponseStream(response, await response.Content.ReadAsStreamAsync(cancellationToken));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Puts a blob into the repository unless it is there: HEAD first, then a cross-repository mount from
    /// <paramref name="mountFrom"/> when given (falling back to an upload when the registry declines), then the upload:
    /// POST + one PUT for small blobs, POST + one streaming PATCH + PUT for big ones.
    /// </summary>
    public async Task<BlobUploadOutcome> UploadBlobAsync(string repository, Digest digest, long size, Func<CancellationToken, Task<Stream>> open,
        string? mountFrom, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (await BlobExistsAsync(repository, digest, Intent.Push, cancellationToken))
        {
            progress?.Report(size);
            return BlobUploadOutcome.Existed;
        }
        var scope = mountFrom is null || mountFrom == repository ? PushScope(repository) : $"{PushScope(repository)} {PullScope(mountFrom)}";
        var start = mountFrom is null || mountFrom == repository
            ? $"v2/{repository}/blobs/uploads/"
            : $"v2/{repository}/blobs/uploads/?mount={digest}&from={Uri.EscapeDataString(mountFrom)}";
        Uri location;
        using (var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, start), scope, cancellationToken))
        {
            if (response.StatusCode == HttpStatusCode.Created)
            {
                progress?.Report(size);
                return BlobUploadOutcome.Mounted;
            }
            await EnsureSuccessAsync(response, $"{repository} (blob upload)", repository, Intent.Push, cancellationToken);
            location = Location(response);
        }

        await using var content = await open(cancellationToken);
        var body = new ProgressStream(content, new Progress(this, progress), leaveOpen: true);
        if (size > MonolithicLimit)
        {
            using var patch = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = StreamBody(body, size) };
                return request;
            }, PushScope(repository), cancellationToken);
            await EnsureSuccessAsync(patch, $"{repository} (blob upload)", repository, Intent.Push, cancellationToken);
            location = Location(patch);
            using var put = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)), PushScope(repository), cancellationToken);
            await EnsureSuccessAsync(put, $"{repository}@{digest}", repository, Intent.Push, cancellationToken);
        }
        else
        {
            using var put = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = StreamBody(body, size) },
                PushScope(repository), cancellationToken);
            await EnsureSuccessAsync(put, $"{repository}@{digest}", repository, Intent.Push, cancellationToken);
        }
        return BlobUploadOutcome.Uploaded;
    }

    /// <summary>All tags of a repository, following <c>Link</c> pagination.</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        string? next = $"v2/{repository}/tags/list?n=1000";
        while (next is not null)
        {
            var url = next;
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, url), PullScope(repository), cancellationToken);
            await EnsureSuccessAsync(response, repository, repository, Intent.Pull, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var page = await JsonSerializer.DeserializeAsync(body, RegistryJsonContext.Default.TagList, cancellationToken);
            if (page?.Tags is { } pageTags) tags.AddRange(pageTags);
            next = NextLink(response);
        }
        return tags;
    }

    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links)) return null;
        foreach (var link in links)
        {
            var lt = link.IndexOf('<');
            var gt = link.IndexOf('>');
            if (lt >= 0 && gt > lt && link.Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return link[(lt + 1)..gt].TrimStart('/');
            }
        }
        return null;
    }

    private static HttpRequestMessage Request(HttpMethod method, string url, string accept)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        return request;
    }

    private static StreamContent StreamBody(Stream body, long size)
    {
        var content = new StreamContent(body, 256 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OctetStream);
        content.Headers.ContentLength = size;
        return content;
    }

    private Uri Location(HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new WharfClientException(ClientErrorKind.Failure, "The registry answered an upload without a Location header.");
        return location.IsAbsoluteUri ? location : new Uri(Server, location);
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        var query = builder.Query.TrimStart('?');
        builder.Query = (query.Length > 0 ? query + "&" : "") + "digest=" + Uri.EscapeDataString(digest.ToString());
        return builder.Uri;
    }

    private static Digest? DigestHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var digest) ? digest : null;

    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, string scope, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var request = create();
        request.Options.Set(RegistryAuthHandler.ScopeKey, scope);
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            throw new WharfClientException(ClientErrorKind.Unreachable,
                $"Cannot reach the server at {Shown}: {e.Message}. Is it running? Check --server or WHARF_SERVER.", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WharfClientException(ClientErrorKind.Unreachable, $"The server at {Shown} did not answer in time.", e);
        }
    }

    /// <summary>What a request was for, so that a refusal says who may not do what to which repository.</summary>
    private enum Intent
    {
        Pull,
        Push,
        Delete,
    }

    private Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken) =>
        EnsureSuccessAsync(response, what, null, null, cancellationToken);

    private Task EnsureSuccessAsync(HttpResponseMessage response, string what, string repository, Intent intent, CancellationToken cancellationToken) =>
        EnsureSuccessAsync(response, what, repository, (Intent?)intent, cancellationToken);

    private async Task EnsureSuccessAsync(HttpResponseMessage response, string what, string? repository, Intent? intent, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        string? code = null;
        string? message = null;
        if (response.RequestMessage?.Method != HttpMethod.Head)
        {
            try
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (text.Length is > 0 and < 64 * 1024 && text.TrimStart().StartsWith('{'))
                {
                    var envelope = JsonSerializer.Deserialize(text, RegistryJsonContext.Default.OciErrorEnvelope);
                    code = envelope?.Errors?.FirstOrDefault()?.Code;
                    message = envelope?.Errors?.FirstOrDefault()?.Message;
                }
            }
            catch (JsonException)
            {
            }
        }
        var status = response.StatusCode;
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden && repository is not null && intent is { } wanted)
        {
            throw new RegistryException(status, code, Refusal(repository, wanted));
        }
        var human = (status, code) switch
        {
            (HttpStatusCode.Unauthorized, _) => $"Not authorized for {what} on {Shown}: run 'wharf login {ServerAddress.HostKey(Server)}' with an account that may access it.",
            (HttpStatusCode.Forbidden, _) => $"Access to {what} on {Shown} is denied{(message is null ? "" : $" ({message})")}.",
            (_, "NAME_UNKNOWN") => $"Repository {what} does not exist on {Shown}.",
            (_, "MANIFEST_UNKNOWN") or (HttpStatusCode.NotFound, null) => $"{what} was not found on {Shown}.",
            _ => $"The registry refused {what}: {(int)status} {code ?? status.ToString()}{(message is null ? "" : $": {message}")}",
        };
        throw new RegistryException(status, code, human);
    }

    /// <summary>
    /// A refusal in words: without credentials, that a login is needed; with them, that this account may not do it, and
    /// who may. It names the repository, not the blob or manifest the refused request happened to touch.
    /// </summary>
    private string Refusal(string repository, Intent intent)
    {
        var host = ServerAddress.HostKey(Server);
        if (_auth.Credential is not { } credential)
        {
            var doing = intent switch { Intent.Push => "Pushing to", Intent.Delete => "Deleting from", _ => "Pulling" };
            var why = intent == Intent.Pull ? " (it is private, or does not exist)" : "";
            return $"{doing} {repository} on {host} needs a login{why}: run 'wharf login {host}'.";
        }
        return intent switch
        {
            Intent.Push => $"{credential.UserName} may not push to {repository} on {host}: only its namespace's owner, or its organization's owners and maintainers, may push there.",
            Intent.Delete => $"{credential.UserName} may not delete from {repository} on {host}: only its namespace's owner, or its organization's owners and maintainers, may delete there.",
            _ => $"{credential.UserName} may not pull {repository} on {host}: it is private to its namespace, or does not exist.",
        };
    }

    private sealed class Progress(RegistryClient owner, IProgress<long>? inner) : IProgress<long>
    {
        private long _last;

        public void Report(long value)
        {
            Interlocked.Add(ref owner._bytesUploaded, value - _last);
            _last = value;
            inner?.Report(value);
        }
    }

    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.Content.Headers.ContentLength ?? throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    public void Dispose() => _http.Dispose();
}
