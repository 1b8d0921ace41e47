using System.Net;
using System.Net.Http.Headers;
using Wharf.Client;
using Wharf.Client.Credentials;
using Wharf.Client.Registry;
using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Proxy;

namespace Wharf.Server.Proxy;

/// <summary>Why a request to an upstream failed: what the client is told, and whether cached content may stand in.</summary>
public sealed class UpstreamException(string message, int status, bool notFound = false, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>The status Wharf answers with when nothing is cached: 404, 429, 502 or 504.</summary>
    public int Status { get; } = status;

    /// <summary>The upstream says it has no such manifest or blob (as opposed to being unreachable).</summary>
    public bool NotFound { get; } = notFound;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// One upstream registry: HTTP with the Docker token flow (a 401 with <c>Bearer realm,service,scope</c> gets a token
/// from the realm with the configured credentials, cached per scope until it expires; a <c>Basic</c> challenge gets the
/// credentials), redirects followed (a blob may live behind a CDN; the credentials are not sent there), and a time limit
/// on every answer. Failures are <see cref="UpstreamException"/>s that say which upstream and what happened.
/// </summary>
public sealed class UpstreamRegistry : IDisposable
{
    private static readonly string ManifestAccept = string.Join(", ",
        MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest);

    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;
    private readonly RegistryCredential? _credential;

    public UpstreamRegistry(Uri baseUri, RegistryCredential? credential, TimeSpan timeout)
    {
        BaseUri = baseUri;
        _timeout = timeout;
        _credential = credential;
        var sockets = new SocketsHttpHandler
        {
            ConnectTimeout = timeout,
            AllowAutoRedirect = true,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(new RegistryAuthHandler(credential, sockets), disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("wharf-proxy/1.0");
    }

    public Uri BaseUri { get; }

    /// <summary>How long an answer, or each next piece of a body, may take.</summary>
    public TimeSpan Timeout => _timeout;

    /// <summary>The upstream repository as people name it: <c>http://host:port/path</c>.</summary>
    public string Describe(string name) => new Uri(BaseUri, name).ToString().TrimEnd('/');

    /// <summary>HEAD of a manifest by tag: its digest.</summary>
    public async Task<Digest> HeadManifestAsync(string name, string tag, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, name, $"manifests/{tag}", ManifestAccept, cancellationToken);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var digest)) return digest;
        throw new UpstreamException($"The upstream {Describe(name)} answered HEAD {tag} without a Docker-Content-Digest.", 502);
    }

    /// <summary>A manifest's bytes (at most <paramref name="maxBytes"/>), media type and the digest the upstream named.</summary>
    public async Task<(byte[] Content, string? MediaType, Digest? Digest)> GetManifestAsync(string name, string reference, int maxBytes, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, name, $"manifests/{reference}", ManifestAccept, cancellationToken);
        if (response.Content.Headers.ContentLength > maxBytes) throw TooLarge(name, maxBytes);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(chunk, timeout.Token)) > 0)
            {
                if (buffer.Length + read > maxBytes) throw TooLarge(name, maxBytes);
                buffer.Write(chunk, 0, read);
            }
            Digest? named = response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var d) ? d : null;
            return (buffer.ToArray(), response.Content.Headers.ContentType?.MediaType, named);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(name, e);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(name, e);
        }
    }

    /// <summary>HEAD of a blob: its size.</summary>
    public async Task<long> HeadBlobAsync(string name, Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, name, $"blobs/{digest}", null, cancellationToken);
        return response.Content.Headers.ContentLength
            ?? throw new UpstreamException($"The upstream {Describe(name)} answered HEAD {digest} without a Content-Length.", 502);
    }

    /// <summary>Starts a blob GET: the response with its headers read (the caller reads the body, each read within <see cref="Timeout"/>, and disposes it).</summary>
    public Task<HttpResponseMessage> GetBlobAsync(string name, Digest digest, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, name, $"blobs/{digest}", null, cancellationToken);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string name, string tail, string? accept, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseUri, $"v2/{name}/{tail}"));
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        request.Options.Set(RegistryAuthHandler.ScopeKey, $"repository:{name}:pull");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(name, e);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(name, e);
        }
        catch (WharfClientException e)
        {
            throw new UpstreamException(_credential is null
                ? $"The upstream {Describe(name)} wants credentials for its token service, and Wharf:Proxy names none for it (Username, Password)."
                : $"The upstream {Describe(name)}'s token service refused the credentials of '{_credential.UserName}' configured in Wharf:Proxy.", 502, inner: e);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var status = (int)response.StatusCode;
            throw status switch
            {
                404 => new UpstreamException($"The upstream {Describe(name)} has no {tail}.", 404, notFound: true),
                429 => new UpstreamException($"The upstream {Describe(name)} is limiting requests (429).", 429,
                    retryAfter: response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(60)),
                401 or 403 => new UpstreamException($"The upstream {Describe(name)} refused access ({status}): check Wharf:Proxy's credentials for it.", 502),
                _ => new UpstreamException($"The upstream {Describe(name)} answered {status} to {method} {tail}.", 502),
            };
        }
    }

    private UpstreamException TimedOut(string name, Exception e) =>
        new($"The upstream {Describe(name)} did not answer within {_timeout.TotalSeconds:0.#} s (Wharf:Proxy:UpstreamTimeout).", 504, inner: e);

    private UpstreamException Unreachable(string name, Exception e) =>
        new($"The upstream {Describe(name)} cannot be reached: {e.Message}", 502, inner: e);

    private UpstreamException TooLarge(string name, int maxBytes) =>
        new($"The upstream {Describe(name)} sent a manifest larger than this registry's limit of {maxBytes} bytes.", 502);

    public void Dispose() => _http.Dispose();
}
