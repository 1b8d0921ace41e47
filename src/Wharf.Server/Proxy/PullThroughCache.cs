using System.Collections.Concurrent;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;
using Wharf.Core.Proxy;
using Wharf.Core.References;
using Wharf.Core.Registry;
using Wharf.Core.Storage;

namespace Wharf.Server.Proxy;

/// <summary>Where a repository of Wharf's comes from: an upstream registry and the name there.</summary>
public sealed record ProxyTarget(string Repository, string Label, UpstreamRegistry Upstream, string UpstreamName, ProxyUpstreamOptions Options)
{
    /// <summary>The upstream repository as search and the UI show it.</summary>
    public string UpstreamRepository => Upstream.Describe(UpstreamName);
}

/// <summary>
/// The pull-through cache: a pull of a repository in a proxy namespace (<c>Wharf:Proxy:Namespaces</c>), or in mirror
/// mode of any name Wharf does not hold itself (<c>Wharf:Proxy:Mirror</c>), that Wharf lacks is fetched from the upstream
/// (manifest first, blobs when asked for), served while it streams in, and kept. Tags are re-checked with a HEAD after
/// <c>TagTtl</c>; when the upstream is down or limits requests, the cached content is served and a warning logged.
/// One fetch per manifest and per blob is in flight at a time, whatever the number of clients asking.
/// </summary>
public sealed partial class PullThroughCache : IDisposable
{
    private readonly ProxyOptions _options;
    private readonly RegistryService _registry;
    private readonly IRegistryStore _store;
    private readonly IBlobStore _blobs;
    private readonly IUploadStore _uploads;
    private readonly ICachedRepositoryStore _cached;
    private readonly ProxyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<PullThroughCache> _logger;
    private readonly string _spool;
    private readonly Dictionary<string, (UpstreamRegistry Upstream, ProxyUpstreamOptions Options)> _namespaces = new(StringComparer.Ordinal);
    private readonly (UpstreamRegistry Upstream, ProxyUpstreamOptions Options)? _mirror;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, Task<RegistryResult<StoredManifest>>> _manifestFetches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, BlobFetch> _blobFetches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _checkedUntil = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _knownCached = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _knownLocal = new(StringComparer.Ordinal);

    public PullThroughCache(ProxyOptions options, string spoolPath, RegistryService registry, IRegistryStore store, IBlobStore blobs, IUploadStore uploads,
        ICachedRepositoryStore cached, ProxyMetrics metrics, TimeProvider time, ILogger<PullThroughCache> logger)
    {
        _options = options;
        _registry = registry;
        _store = store;
        _blobs = blobs;
        _uploads = uploads;
        _cached = cached;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _spool = spoolPath;
        foreach (var (name, upstream) in options.Namespaces) _namespaces[name] = (Create(upstream), upstream);
        if (options.Mirror is { Upstream.Length: > 0 } mirror) _mirror = (Create(mirror), mirror);
        // Spool files of a previous run are of fetches that ended with it.
        try { if (Directory.Exists(_spool)) Directory.Delete(_spool, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private UpstreamRegistry Create(ProxyUpstreamOptions upstream) =>
        new(upstream.BaseUri, string.IsNullOrEmpty(upstream.Username) ? null : new Client.Credentials.RegistryCredential(upstream.Username, upstream.Password!), _options.UpstreamTimeout);

    /// <summary>True when the repository is in a proxy namespace: pushes there are refused.</summary>
    public bool IsInProxyNamespace(string repository, out string upstream)
    {
        upstream = "";
        if (NamespaceTarget(repository) is not { } target) return false;
        upstream = target.Upstream.Describe(target.UpstreamName);
        return true;
    }

    /// <summary>The upstream repositories of those of <paramref name="repositories"/> that the cache filled (for listings).</summary>
    public async Task<IReadOnlyDictionary<string, string>> UpstreamsOfAsync(IReadOnlyCollection<string> repositories, CancellationToken cancellationToken)
    {
        if (repositories.Count == 0) return new Dictionary<string, string>();
        return await _cached.GetUpstreamsAsync(repositories, cancellationToken);
    }

    private ProxyTarget? NamespaceTarget(string repository)
    {
        if (_namespaces.Count == 0) return null;
        var slash = repository.IndexOf('/');
        if (slash <= 0 || !_namespaces.TryGetValue(repository[..slash], out var upstream)) return null;
        return new ProxyTarget(repository, repository[..slash], upstream.Upstream, repository[(slash + 1)..], upstream.Options);
    }

    private ProxyTarget? MirrorTarget(string repository) =>
        _mirror is { } mirror ? new ProxyTarget(repository, "mirror", mirror.Upstream, repository, mirror.Options) : null;

    /// <summary>The target of a repository the cache filled: any in a proxy namespace; in mirror mode, one marked as cached.</summary>
    private async ValueTask<ProxyTarget?> CachedTargetAsync(string repository, CancellationToken cancellationToken)
    {
        if (NamespaceTarget(repository) is { } target) return target;
        if (_mirror is null) return null;
        if (_knownCached.ContainsKey(repository)) return MirrorTarget(repository);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_knownLocal.TryGetValue(repository, out var until) && until > now) return null;
        if (await _cached.GetUpstreamAsync(repository, cancellationToken) is not null)
        {
            _knownCached[repository] = repository;
            return MirrorTarget(repository);
        }
        _knownLocal[repository] = now + 5_000;
        return null;
    }

    /// <summary>The target to fetch a missing manifest or blob from: a proxy namespace's, or the mirror's for a name Wharf does not hold itself.</summary>
    private async ValueTask<ProxyTarget?> MissTargetAsync(string repository, CancellationToken cancellationToken)
    {
        if (NamespaceTarget(repository) is { } target) return target;
        if (_mirror is null || _namespaces.ContainsKey(AccountName.NamespaceOf(repository) ?? "")) return null;
        if (await CachedTargetAsync(repository, cancellationToken) is { } cached) return cached;
        return await _store.RepositoryExistsAsync(repository, cancellationToken) ? null : MirrorTarget(repository);
    }

    // ---- manifests ----

    /// <summary>A manifest GET or HEAD: from the cache when it holds the manifest (and the tag is fresh), else from the upstream.</summary>
    public async ValueTask<RegistryResult<StoredManifest>> GetManifestAsync(string repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        var local = await _registry.GetManifestAsync(repository, reference, cancellationToken);
        if (local.IsOk)
        {
            if (await CachedTargetAsync(repository, cancellationToken) is not { } cachedFrom) return local;
            if (reference.IsDigest || IsFresh(repository, reference.Tag!))
            {
                _metrics.Hit(cachedFrom.Label, "manifest");
                return local;
            }
            return await SingleFlightAsync($"check {repository}:{reference.Tag}", () => RevalidateAsync(cachedFrom, reference, local.Value!));
        }
        if (local.Error!.Code is not (RegistryErrorCode.ManifestUnknown or RegistryErrorCode.NameUnknown)) return local;
        if (await MissTargetAsync(repository, cancellationToken) is not { } target) return local;
        _metrics.Miss(target.Label, "manifest");
        return await SingleFlightAsync($"fetch {repository}@{reference}", () => FetchManifestAsync(target, reference));
    }

    private async Task<RegistryResult<StoredManifest>> SingleFlightAsync(string key, Func<Task<RegistryResult<StoredManifest>>> work)
    {
        var mine = new TaskCompletionSource<RegistryResult<StoredManifest>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = _manifestFetches.GetOrAdd(key, mine.Task);
        if (running != mine.Task) return await running;
        try
        {
            mine.SetResult(await work());
        }
        catch (Exception e)
        {
            mine.SetException(e);
        }
        finally
        {
            _manifestFetches.TryRemove(new KeyValuePair<string, Task<RegistryResult<StoredManifest>>>(key, mine.Task));
        }
        return await mine.Task;
    }

    private bool IsFresh(string repository, string tag) =>
        _checkedUntil.TryGetValue(repository + ":" + tag, out var until) && until > _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void MarkChecked(ProxyTarget target, string tag) =>
        _checkedUntil[target.Repository + ":" + tag] = (_time.GetUtcNow() + target.Options.TagTtl).ToUnixTimeMilliseconds();

    /// <summary>A cached tag whose TagTtl has passed: a HEAD says whether the upstream's tag still names the same manifest.</summary>
    private async Task<RegistryResult<StoredManifest>> RevalidateAsync(ProxyTarget target, ManifestReference reference, StoredManifest cached)
    {
        Digest current;
        try
        {
            current = await target.Upstream.HeadManifestAsync(target.UpstreamName, reference.Tag!, _stopping.Token);
        }
        catch (UpstreamException e)
        {
            if (!e.NotFound) _metrics.UpstreamError(target.Label, "manifest");
            Log.ServingStale(_logger, target.Repository, reference.Tag!, e.Message);
            MarkChecked(target, reference.Tag!);
            _metrics.Hit(target.Label, "manifest");
            return cached;
        }
        if (current == cached.Digest)
        {
            MarkChecked(target, reference.Tag!);
            _metrics.Hit(target.Label, "manifest");
            return cached;
        }
        _metrics.Miss(target.Label, "manifest");
        var fetched = await FetchManifestAsync(target, reference);
        if (fetched.IsOk) return fetched;
        Log.ServingStale(_logger, target.Repository, reference.Tag!, fetched.Error!.Message);
        return cached;
    }

    private async Task<RegistryResult<StoredManifest>> FetchManifestAsync(ProxyTarget target, ManifestReference reference)
    {
        var ct = _stopping.Token;
        try
        {
            var (content, mediaType, named) = await target.Upstream.GetManifestAsync(target.UpstreamName, reference.ToString(), _registry.Options.MaxManifestBytes, ct);
            // The image config is small and every client reads it next: fetch it now, so that the push details (size,
            // platform, labels) that listings and search show are recorded with the manifest.
            var parsed = ManifestParser.Parse(content, mediaType);
            if (parsed.IsValid && parsed.Manifest!.Config is { } config && !parsed.Manifest.IsIndex)
            {
                try
                {
                    await EnsureBlobAsync(target, config.Digest, ct);
                }
                catch (Exception e) when (e is UpstreamException or CorruptUpstreamBlobException or BlobBeingCollectedException)
                {
                    Log.ConfigNotFetched(_logger, target.Repository, config.Digest.ToString(), e.Message);
                }
            }
            var stored = await _registry.PutCachedManifestAsync(target.Repository, reference, content, mediaType, named, ct);
            if (!stored.IsOk)
            {
                _metrics.UpstreamError(target.Label, "manifest");
                Log.UpstreamFailed(_logger, target.UpstreamRepository, stored.Error!.Message);
                return stored;
            }
            if (!_knownCached.ContainsKey(target.Repository))
            {
                await _cached.MarkCachedAsync(target.Repository, target.UpstreamRepository, ct);
                _knownCached[target.Repository] = target.UpstreamRepository;
                _knownLocal.TryRemove(target.Repository, out _);
            }
            if (!reference.IsDigest) MarkChecked(target, reference.Tag!);
            return stored;
        }
        catch (UpstreamException e)
        {
            if (!e.NotFound) _metrics.UpstreamError(target.Label, "manifest");
            if (!e.NotFound) Log.UpstreamFailed(_logger, target.UpstreamRepository, e.Message);
            return ToRegistryError(e, RegistryError.ManifestUnknown(reference.ToString()));
        }
    }

    private static RegistryError ToRegistryError(UpstreamException e, RegistryError notFound) => e switch
    {
        { NotFound: true } => notFound,
        { Status: 429 } => new RegistryError(RegistryErrorCode.TooManyRequests, e.Message, 429),
        _ => new RegistryError(RegistryErrorCode.Unknown, e.Message, e.Status),
    };

    // ---- blobs ----

    /// <summary>What <see cref="ServeBlobAsync"/> did: answered the request (with an error or the bytes), or left it to the local path.</summary>
    public readonly record struct BlobOutcome(bool Answered, RegistryError? Error)
    {
        public static BlobOutcome ServeLocally => new(false, null);
    }

    /// <summary>Counts a blob served from the cache: of a proxy namespace, or of a repository the mirror filled.</summary>
    public async ValueTask BlobServedLocallyAsync(string repository, CancellationToken cancellationToken)
    {
        if (await CachedTargetAsync(repository, cancellationToken) is { } target) _metrics.Hit(target.Label, "blob");
    }

    /// <summary>
    /// A blob GET or HEAD of a blob the repository does not link. HEAD asks the upstream (nothing is fetched). GET joins
    /// the fetch in flight or starts one, and streams the bytes as they arrive (a range waits for the whole blob).
    /// <see cref="BlobOutcome.ServeLocally"/> when the blob is now linked and the caller should serve it from the store.
    /// </summary>
    public async Task<BlobOutcome> ServeBlobAsync(HttpContext context, string repository, Digest digest, CancellationToken cancellationToken)
    {
        if (await MissTargetAsync(repository, cancellationToken) is not { } target) return new BlobOutcome(true, RegistryError.BlobUnknown(digest.ToString()));
        var request = context.Request;
        var response = context.Response;
        try
        {
            var key = repository + "@" + digest;
            if (HttpMethods.IsHead(request.Method))
            {
                var size = _blobFetches.TryGetValue(key, out var inFlight) ? await inFlight.Length.WaitAsync(cancellationToken)
                    : await target.Upstream.HeadBlobAsync(target.UpstreamName, digest, cancellationToken);
                SetBlobHeaders(response, digest, size);
                return new BlobOutcome(true, null);
            }
            _metrics.Miss(target.Label, "blob");
            if (!_blobFetches.ContainsKey(key) && await _blobs.StatAsync(digest, cancellationToken) is { } stored)
            {
                // Another repository brought the content already: the upstream only has to confirm this one has it.
                await target.Upstream.HeadBlobAsync(target.UpstreamName, digest, cancellationToken);
                await LinkAsync(repository, digest, stored.Size, cancellationToken);
                return BlobOutcome.ServeLocally;
            }
            var fetch = StartOrJoin(target, digest);
            var length = await fetch.Length.WaitAsync(cancellationToken);
            if (request.Headers.Range.Count > 0)
            {
                await fetch.Done.WaitAsync(cancellationToken);
                return BlobOutcome.ServeLocally;
            }
            SetBlobHeaders(response, digest, length);
            response.StatusCode = StatusCodes.Status200OK;
            try
            {
                if (!await fetch.CopyToAsync(response, 0, length, length, cancellationToken))
                {
                    await fetch.Done.WaitAsync(cancellationToken);
                    return BlobOutcome.ServeLocally;
                }
            }
            catch (Exception e) when (e is UpstreamException or CorruptUpstreamBlobException or BlobBeingCollectedException && response.HasStarted)
            {
                // Part of the body is out: the only honest end is a broken connection (the client never sees a whole blob).
                Log.BlobAborted(_logger, repository, digest.ToString(), e.Message);
                context.Abort();
                return new BlobOutcome(true, null);
            }
            return new BlobOutcome(true, null);
        }
        catch (UpstreamException e)
        {
            ClearBlobHeaders(response);
            if (!e.NotFound) _metrics.UpstreamError(target.Label, "blob");
            if (!e.NotFound) Log.UpstreamFailed(_logger, target.UpstreamRepository, e.Message);
            if (e.RetryAfter is { } retry) response.Headers.RetryAfter = ((int)retry.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new BlobOutcome(true, ToRegistryError(e, RegistryError.BlobUnknown(digest.ToString())));
        }
        catch (BlobBeingCollectedException e)
        {
            ClearBlobHeaders(response);
            return new BlobOutcome(true, RegistryError.Unavailable(e.Message));
        }
        catch (CorruptUpstreamBlobException e)
        {
            ClearBlobHeaders(response);
            _metrics.UpstreamError(target.Label, "blob");
            Log.UpstreamFailed(_logger, target.UpstreamRepository, e.Message);
            return new BlobOutcome(true, new RegistryError(RegistryErrorCode.Unknown, e.Message, StatusCodes.Status502BadGateway));
        }
    }

    private static void SetBlobHeaders(HttpResponse response, Digest digest, long size)
    {
        var text = digest.ToString();
        response.Headers["Docker-Content-Digest"] = text;
        response.Headers.ETag = string.Concat("\"", text, "\"");
        response.ContentType = Core.MediaTypes.OctetStream;
        response.ContentLength = size;
    }

    private static void ClearBlobHeaders(HttpResponse response)
    {
        if (response.HasStarted) return;
        response.Headers.Remove("Docker-Content-Digest");
        response.Headers.ETag = default;
        response.ContentLength = null;
    }

    /// <summary>Makes sure the repository links the blob, fetching it when needed (no client reads it).</summary>
    private async Task EnsureBlobAsync(ProxyTarget target, Digest digest, CancellationToken cancellationToken)
    {
        if (await _store.GetLinkedBlobSizeAsync(target.Repository, digest, cancellationToken) is not null) return;
        await StartOrJoin(target, digest).Done.WaitAsync(cancellationToken);
    }

    private BlobFetch StartOrJoin(ProxyTarget target, Digest digest)
    {
        var key = target.Repository + "@" + digest;
        while (true)
        {
            if (_blobFetches.TryGetValue(key, out var running))
            {
                // A fetch that has failed stays in the table for a moment after its clients are told (until its task
                // removes it): a request in that moment starts afresh instead of joining the failure.
                if (!running.Done.IsFaulted) return running;
                _blobFetches.TryRemove(new KeyValuePair<string, BlobFetch>(key, running));
                continue;
            }
            var fetch = new BlobFetch(digest, Path.Combine(_spool, Guid.NewGuid().ToString("N")));
            if (!_blobFetches.TryAdd(key, fetch)) continue;
            _ = Task.Run(async () =>
            {
                try
                {
                    await fetch.RunAsync(ct => target.Upstream.GetBlobAsync(target.UpstreamName, digest, ct), _options.UpstreamTimeout, _uploads,
                        (blob, ct) => LinkAsync(target.Repository, blob.Digest, blob.Size, ct), _stopping.Token);
                    if (fetch.Done.IsFaulted && fetch.Done.Exception?.InnerException is { } failure and not UpstreamException { NotFound: true })
                    {
                        Log.BlobNotKept(_logger, target.Repository, digest.ToString(), failure.Message);
                    }
                }
                finally
                {
                    _blobFetches.TryRemove(new KeyValuePair<string, BlobFetch>(key, fetch));
                }
            });
            return fetch;
        }
    }

    /// <summary>
    /// Links a blob whose object is in the store into the repository. Garbage collection may be deleting that very
    /// object (it claimed the blob, or has already removed the object): then nothing is linked, and the client is told
    /// to ask again, as an upload that meets the collector is.
    /// </summary>
    private async Task LinkAsync(string repository, Digest digest, long size, CancellationToken cancellationToken)
    {
        var linked = await _store.LinkBlobAsync(repository, digest, size, async ct => await _blobs.StatAsync(digest, ct) is not null, cancellationToken);
        if (linked == LinkBlobStatus.Gone) throw new BlobBeingCollectedException(digest);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var (upstream, _) in _namespaces.Values) upstream.Dispose();
        _mirror?.Upstream.Dispose();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Serving the cached {Repository}:{Tag} without re-checking it: {Reason}")]
        public static partial void ServingStale(ILogger logger, string repository, string tag, string reason);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Upstream {Upstream} failed: {Reason}")]
        public static partial void UpstreamFailed(ILogger logger, string upstream, string reason);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The blob {Digest} of {Repository} was not kept: {Reason}")]
        public static partial void BlobNotKept(ILogger logger, string repository, string digest, string reason);

        [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Broke off the blob {Digest} of {Repository} midway: {Reason}")]
        public static partial void BlobAborted(ILogger logger, string repository, string digest, string reason);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "The config {Digest} of {Repository} was not fetched with its manifest: {Reason}")]
        public static partial void ConfigNotFetched(ILogger logger, string repository, string digest, string reason);
    }
}
