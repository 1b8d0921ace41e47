using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Wharf.Core;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.References;
using Wharf.Core.Registry;
using Wharf.Core.Storage;
using Wharf.Core.Telemetry;
using Wharf.Server.Operations;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary>
/// The OCI Distribution API v1.1 under <c>/v2/</c>. One catch-all route: <see cref="DistributionRoute"/> parses the path
/// (names contain slashes), the access policy is asked before any handler runs, and handlers only translate
/// HTTP to <see cref="RegistryService"/> and <see cref="BlobService"/> calls.
/// </summary>
public static partial class DistributionApi
{
    private const string ApiVersionHeader = "Docker-Distribution-API-Version";
    private const string ApiVersion = "registry/2.0";
    private const string DigestHeader = "Docker-Content-Digest";
    private const string UploadUuidHeader = "Docker-Upload-UUID";

    public static IEndpointRouteBuilder MapDistributionApi(this IEndpointRouteBuilder app)
    {
        // Blob uploads are unlimited (streamed to storage); manifests are bounded by Registry:MaxManifestBytes as they are read.
        app.Map("/v2", HandleAsync).WithDisplayName("OCI distribution /v2").WithBodyLimit(null).ExcludeFromDescription();
        app.Map("/v2/{**path}", HandleAsync).WithDisplayName("OCI distribution").WithBodyLimit(null).ExcludeFromDescription();
        return app;
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers[ApiVersionHeader] = ApiVersion;
        var path = context.Request.Path.Value.AsSpan();
        path = path.Length > 4 ? path[4..] : [];
        var route = DistributionRoute.Parse(path);
        var ct = context.RequestAborted;
        try
        {
            var error = await DispatchAsync(context, route, ct);
            if (error is not null) await OciErrors.WriteAsync(response, error, ct);
        }
        catch (Exception e) when (IsClientGone(e, context))
        {
            Log.ClientDisconnected(Logger(context), context.Request.Method, context.Request.Path);
        }
        catch (BadHttpRequestException e)
        {
            await OciErrors.WriteAsync(response, RegistryError.BlobUploadInvalid(e.Message, e.StatusCode), CancellationToken.None);
        }
        catch (Exception e) when (StorageFailures.Classify(e) is var kind && kind != StorageFailures.Kind.None)
        {
            Log.StorageFailed(Logger(context), e, context.Request.Method, context.Request.Path);
            var (status, message) = StorageFailures.Describe(kind, e);
            if (status == StatusCodes.Status503ServiceUnavailable) response.Headers.RetryAfter = "10";
            var code = route.Kind switch
            {
                DistributionRouteKind.Uploads or DistributionRouteKind.Upload => RegistryErrorCode.BlobUploadInvalid,
                DistributionRouteKind.Manifest when HttpMethods.IsPut(context.Request.Method) => RegistryErrorCode.ManifestInvalid,
                _ => RegistryErrorCode.Unsupported,
            };
            await OciErrors.WriteAsync(response, new RegistryError(code, message, status), CancellationToken.None);
        }
    }

    private static bool IsClientGone(Exception e, HttpContext context) =>
        context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException or BadHttpRequestException;

    private static async ValueTask<RegistryError?> DispatchAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        var method = context.Request.Method;
        if (route.Kind == DistributionRouteKind.None)
        {
            return new RegistryError(RegistryErrorCode.NameUnknown, "no such route in the distribution API", 404);
        }
        if (route.Kind == DistributionRouteKind.Base)
        {
            if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method)) return MethodNotAllowed(context, "GET, HEAD");
            var decision = await Policy(context).CheckAsync(context.User, RegistryScope.Base, ct);
            if (decision != AccessDecision.Allowed) return await DenyAsync(context, RegistryScope.Base, decision);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = 2;
            if (HttpMethods.IsGet(method)) await context.Response.Body.WriteAsync("{}"u8.ToArray(), ct);
            return null;
        }
        if (route.Kind == DistributionRouteKind.Catalog)
        {
            if (!HttpMethods.IsGet(method)) return MethodNotAllowed(context, "GET");
            var decision = await Policy(context).CheckAsync(context.User, RegistryScope.CatalogScope, ct);
            if (decision != AccessDecision.Allowed) return await DenyAsync(context, RegistryScope.CatalogScope, decision);
            return await CatalogAsync(context, ct);
        }
        if (!RepositoryName.IsValid(route.Name))
        {
            return RegistryError.NameInvalid($"'{route.Name}' is not a valid repository name: lower-case letters, digits and separators, components joined by '/', at most {RepositoryName.MaxLength} characters.");
        }
        var actions = RequiredActions(route.Kind, method);
        if (actions is null) return MethodNotAllowed(context, AllowedMethods(route.Kind));
        var scope = RegistryScope.ForRepository(route.Name, actions.Value);
        var access = await Policy(context).CheckAsync(context.User, scope, ct);
        if (access != AccessDecision.Allowed) return await DenyAsync(context, scope, access);
        if (actions.Value.HasFlag(RegistryActions.Push) && Proxy(context) is { } proxy && proxy.IsInProxyNamespace(route.Name, out var upstream))
        {
            return new RegistryError(RegistryErrorCode.Denied,
                $"'{route.Name}' is in a pull-through cache of {upstream}: pushing there is refused; push to another namespace.", StatusCodes.Status403Forbidden);
        }
        if (actions.Value.HasFlag(RegistryActions.Push) && !await Repositories.PushTarget.MayPushAsync(context, route.Name, ct))
        {
            return RegistryError.NameUnknown(route.Name);
        }

        return route.Kind switch
        {
            DistributionRouteKind.Manifest when HttpMethods.IsGet(method) || HttpMethods.IsHead(method) => await GetManifestAsync(context, route, ct),
            DistributionRouteKind.Manifest when HttpMethods.IsPut(method) => await PutManifestAsync(context, route, ct),
            DistributionRouteKind.Manifest => await DeleteManifestAsync(context, route, ct),
            DistributionRouteKind.Blob when HttpMethods.IsDelete(method) => await DeleteBlobAsync(context, route, ct),
            DistributionRouteKind.Blob => await GetBlobAsync(context, route, ct),
            DistributionRouteKind.Uploads => await StartUploadAsync(context, route, ct),
            DistributionRouteKind.Upload when HttpMethods.IsGet(method) => await UploadStatusAsync(context, route, ct),
            DistributionRouteKind.Upload when HttpMethods.IsPatch(method) => await PatchUploadAsync(context, route, ct),
            DistributionRouteKind.Upload when HttpMethods.IsPut(method) => await CompleteUploadAsync(context, route, ct),
            DistributionRouteKind.Upload => await CancelUploadAsync(context, route, ct),
            DistributionRouteKind.Tags => await TagsAsync(context, route, ct),
            DistributionRouteKind.Referrers => await ReferrersAsync(context, route, ct),
            _ => MethodNotAllowed(context, AllowedMethods(route.Kind)),
        };
    }

    /// <summary>The actions a method needs on a route, or null when the route does not take the method.</summary>
    private static RegistryActions? RequiredActions(DistributionRouteKind kind, string method)
    {
        var read = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        return kind switch
        {
            DistributionRouteKind.Manifest when read => RegistryActions.Pull,
            DistributionRouteKind.Manifest when HttpMethods.IsPut(method) => RegistryActions.Pull | RegistryActions.Push,
            DistributionRouteKind.Manifest when HttpMethods.IsDelete(method) => RegistryActions.Delete,
            DistributionRouteKind.Blob when read => RegistryActions.Pull,
            DistributionRouteKind.Blob when HttpMethods.IsDelete(method) => RegistryActions.Delete,
            DistributionRouteKind.Uploads when HttpMethods.IsPost(method) => RegistryActions.Pull | RegistryActions.Push,
            DistributionRouteKind.Upload when HttpMethods.IsGet(method) || HttpMethods.IsPatch(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method)
                => RegistryActions.Pull | RegistryActions.Push,
            DistributionRouteKind.Tags when HttpMethods.IsGet(method) => RegistryActions.Pull,
            DistributionRouteKind.Referrers when HttpMethods.IsGet(method) => RegistryActions.Pull,
            _ => null,
        };
    }

    private static string AllowedMethods(DistributionRouteKind kind) => kind switch
    {
        DistributionRouteKind.Manifest => "GET, HEAD, PUT, DELETE",
        DistributionRouteKind.Blob => "GET, HEAD, DELETE",
        DistributionRouteKind.Uploads => "POST",
        DistributionRouteKind.Upload => "GET, PATCH, PUT, DELETE",
        _ => "GET",
    };

    private static RegistryError MethodNotAllowed(HttpContext context, string allow)
    {
        context.Response.Headers.Allow = allow;
        return RegistryError.Unsupported($"{context.Request.Method} is not supported here; allowed: {allow}.");
    }

    private static async ValueTask<RegistryError> DenyAsync(HttpContext context, RegistryScope scope, AccessDecision decision)
    {
        var challenge = context.RequestServices.GetService<IRegistryChallenge>();
        if (decision == AccessDecision.Unauthenticated)
        {
            if (challenge is not null) await challenge.ChallengeAsync(context, ChallengeScopes(context, scope));
            return new RegistryError(RegistryErrorCode.Unauthorized, "authentication required", 401, scope.Repository is null ? null : new[] { new { Type = "repository", Class = "", Name = scope.Repository, Action = scope.ToString() } });
        }
        return new RegistryError(RegistryErrorCode.Denied, "requested access to the resource is denied", 403);
    }

    /// <summary>
    /// The scopes a 401 names: the route's, and for a cross-repository mount (<c>POST …/uploads/?mount=D&amp;from=R</c>)
    /// also <c>repository:R:pull</c>, as the reference registry asks, so a token-flow client that follows the challenge
    /// gets a token that can mount instead of one that always falls back to a full upload.
    /// </summary>
    private static IReadOnlyList<RegistryScope> ChallengeScopes(HttpContext context, RegistryScope scope) =>
        MountSource(context, scope.Repository) is { } from ? [scope, RegistryScope.ForRepository(from, RegistryActions.Pull)] : [scope];

    /// <summary>The <c>from</c> repository of a mount request to <paramref name="target"/>, when it names another valid repository.</summary>
    private static string? MountSource(HttpContext context, string? target)
    {
        if (target is null || !HttpMethods.IsPost(context.Request.Method)) return null;
        var query = context.Request.Query;
        if (string.IsNullOrEmpty(query["mount"].ToString())) return null;
        var from = query["from"].ToString();
        return RepositoryName.IsValid(from) && from != target ? from : null;
    }

    // ---- manifests ----

    private static async ValueTask<RegistryError?> GetManifestAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseReference(route.Argument, out var reference, out var referenceError))
        {
            // The spec lists only 404 for reading a manifest: no manifest can carry a malformed tag, so it is unknown.
            // A malformed digest stays DIGEST_INVALID, and a PUT with a malformed tag stays 400 MANIFEST_INVALID.
            return route.Argument.Contains(':') ? referenceError : UnknownMalformedTag(route.Argument);
        }
        var result = Proxy(context) is { } proxy
            ? await proxy.GetManifestAsync(route.Name, reference, ct)
            : await Registry(context).GetManifestAsync(route.Name, reference, ct);
        if (!result.IsOk) return result.Error;
        var manifest = result.Value!;
        var response = context.Response;
        var digest = manifest.Digest.ToString();
        var etag = string.Concat("\"", digest, "\"");
        response.Headers[DigestHeader] = digest;
        response.Headers.ETag = etag;
        response.ContentType = manifest.MediaType;
        if (context.Request.Headers.IfNoneMatch is { Count: > 0 } ifNoneMatch && ifNoneMatch.ToString().Contains(etag, StringComparison.Ordinal))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return null;
        }
        response.ContentLength = manifest.Content.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            Registry(context).RecordPull(route.Name, reference);
            Metrics(context).Pulled(MediaTypes.IsIndex(manifest.MediaType) ? ContentKind.Index : ContentKind.Manifest);
            await response.Body.WriteAsync(manifest.Content, ct);
        }
        return null;
    }

    private static async ValueTask<RegistryError?> PutManifestAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseReference(route.Argument, out var reference, out var referenceError)) return referenceError;
        var registry = Registry(context);
        var limit = registry.Options.MaxManifestBytes;
        if (context.Request.ContentLength > limit) return ManifestTooLarge(limit);
        var content = await ReadBoundedAsync(context.Request.Body, limit, ct);
        if (content is null) return ManifestTooLarge(limit);
        var extraTags = reference.IsDigest ? (IReadOnlyList<string>)context.Request.Query["tag"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList() : [];
        var result = await registry.PutManifestAsync(route.Name, reference, content, context.Request.ContentType, extraTags, Actor(context), ct);
        if (!result.IsOk) return result.Error;
        var pushed = result.Value!;
        Metrics(context).Pushed(pushed.IsIndex ? ContentKind.Index : ContentKind.Manifest);
        RegistryLog.ManifestPushed(Logger(context), route.Name, route.Argument, pushed.Digest.ToString(), RegistryLog.Actor(context));
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{route.Name}/manifests/{pushed.Digest}";
        response.Headers[DigestHeader] = pushed.Digest.ToString();
        if (pushed.Subject is { } subject) response.Headers["OCI-Subject"] = subject.ToString();
        if (extraTags.Count > 0) response.Headers["OCI-Tag"] = string.Join(", ", pushed.Tags);
        response.ContentLength = 0;
        return null;
    }

    private static RegistryError ManifestTooLarge(int limit) =>
        RegistryError.ManifestInvalid($"The manifest is larger than this registry's limit of {limit} bytes.", StatusCodes.Status413PayloadTooLarge);

    /// <summary>Reads the whole body when it is at most <paramref name="limit"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream body, int limit, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, 64 * 1024));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > limit) return null;
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await body.ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0) break;
                length += read;
                if (length > limit) return null;
            }
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<RegistryError?> DeleteManifestAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseReference(route.Argument, out var reference, out var referenceError)) return referenceError;
        var result = await Registry(context).DeleteManifestAsync(route.Name, reference, Actor(context), ct);
        if (!result.IsOk) return result.Error;
        RegistryLog.Deleted(Logger(context), $"{route.Name}{(reference.IsDigest ? "@" : ":")}{route.Argument}", RegistryLog.Actor(context));
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
        return null;
    }

    private static RegistryError UnknownMalformedTag(string text) =>
        new(RegistryErrorCode.ManifestUnknown, $"manifest unknown: '{text}' is not a valid tag (at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'), so no manifest has it", 404, new { reference = text });

    private static bool TryParseReference(string text, out ManifestReference reference, out RegistryError? error)
    {
        error = null;
        if (ManifestReference.TryParse(text, out reference)) return true;
        error = text.Contains(':')
            ? RegistryError.DigestInvalid($"'{text}' is not a valid digest; sha256 and sha512 with lower-case hex are supported.")
            : RegistryError.ManifestInvalid($"'{text}' is not a valid tag: at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'.");
        return false;
    }

    // ---- blobs ----

    private static async ValueTask<RegistryError?> GetBlobAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseDigest(route.Argument, out var digest, out var digestError)) return digestError;
        var blobs = Blobs(context);
        var request = context.Request;
        var response = context.Response;
        var stat = await blobs.StatAsync(route.Name, digest, ct);
        var proxy = Proxy(context);
        if (!stat.IsOk && proxy is not null)
        {
            var proxied = await proxy.ServeBlobAsync(context, route.Name, digest, ct);
            if (proxied.Answered) return proxied.Error;
            stat = await blobs.StatAsync(route.Name, digest, ct);
        }
        else if (proxy is not null)
        {
            await proxy.BlobServedLocallyAsync(route.Name, ct);
        }
        if (!stat.IsOk) return stat.Error;
        var blob = stat.Value;
        var digestText = digest.ToString();
        var entityTag = string.Concat("\"", digestText, "\"");
        response.Headers[DigestHeader] = digestText;
        if (HttpMethods.IsGet(request.Method) && await blobs.GetDownloadUrlAsync(blob, ct) is { } url)
        {
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = url.AbsoluteUri;
            response.ContentLength = 0;
            return null;
        }
        response.Headers.ETag = entityTag;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.CacheControl = "max-age=31536000";
        if (BlobDownload.ClientHasIt(request, entityTag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return null;
        }
        if (HttpMethods.IsHead(request.Method))
        {
            response.ContentType = MediaTypes.OctetStream;
            response.ContentLength = blob.Size;
            return null;
        }
        var selection = BlobDownload.Select(request, blob.Size, entityTag);
        if (selection.Status == StatusCodes.Status416RangeNotSatisfiable)
        {
            response.Headers.ContentRange = BlobDownload.ContentRange(selection, blob.Size);
            return RegistryError.SizeInvalid($"The range '{request.Headers.Range}' is outside the blob's {blob.Size} bytes.") with { Status = StatusCodes.Status416RangeNotSatisfiable };
        }
        var opened = await blobs.OpenAsync(blob, selection.Offset, selection.Length, ct);
        if (!opened.IsOk) return opened.Error;
        await using var content = opened.Value!;
        response.StatusCode = selection.Status;
        response.ContentType = MediaTypes.OctetStream;
        response.ContentLength = selection.Length;
        if (selection.Status == StatusCodes.Status206PartialContent) response.Headers.ContentRange = BlobDownload.ContentRange(selection, blob.Size);
        // Counted as the body starts, so a client that has read it all sees the counters moved.
        var metrics = Metrics(context);
        metrics.Pulled(ContentKind.Blob);
        metrics.BlobServed(selection.Length);
        await BlobDownload.CopyAsync(content, response, selection.Length, ct);
        return null;
    }

    private static async ValueTask<RegistryError?> DeleteBlobAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseDigest(route.Argument, out var digest, out var digestError)) return digestError;
        var result = await Blobs(context).DeleteAsync(route.Name, digest, Actor(context), ct);
        if (!result.IsOk) return result.Error;
        RegistryLog.Deleted(Logger(context), $"{route.Name}@{digest}", RegistryLog.Actor(context));
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
        return null;
    }

    private static bool TryParseDigest(string? text, out Digest digest, out RegistryError? error)
    {
        error = null;
        if (Digest.TryParse(text, out digest)) return true;
        error = RegistryError.DigestInvalid(string.IsNullOrEmpty(text)
            ? "A digest is required."
            : $"'{text}' is not a valid digest; sha256 and sha512 with lower-case hex are supported.");
        return false;
    }

    // ---- uploads ----

    private static async ValueTask<RegistryError?> StartUploadAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        var query = context.Request.Query;
        var blobs = Blobs(context);
        var mount = query["mount"].ToString();
        if (!string.IsNullOrEmpty(mount))
        {
            if (!TryParseDigest(mount, out var mountDigest, out var mountError)) return mountError;
            if (MountSource(context, route.Name) is { } from)
            {
                var source = RegistryScope.ForRepository(from, RegistryActions.Pull);
                var policy = Policy(context);
                var access = await policy.CheckAsync(context.User, source, ct);
                if (access == AccessDecision.Allowed && await blobs.TryMountAsync(route.Name, from, mountDigest, ct))
                {
                    Metrics(context).Pushed(ContentKind.Blob);
                    BlobCreated(context, route.Name, mountDigest);
                    return null;
                }
                // A token without pull on the source, held by someone who may pull it: ask for a token that names both
                // (401 insufficient_scope), as the reference registry does. Anyone else gets an ordinary upload, so a
                // source one may not read neither leaks nor loops.
                if (access == AccessDecision.Unauthenticated && context.User.Identity?.IsAuthenticated == true
                    && await policy.CanPullAsync(context.User, from, ct))
                {
                    return await DenyAsync(context, RegistryScope.ForRepository(route.Name, RegistryActions.Pull | RegistryActions.Push), access);
                }
            }
            // Not mountable (unknown source, no access, or blob absent): fall back to an ordinary upload session.
        }
        var digestText = query["digest"].ToString();
        if (!string.IsNullOrEmpty(digestText))
        {
            if (!TryParseDigest(digestText, out var digest, out var digestError)) return digestError;
            RegistryResult<BlobInfo> whole;
            using (Metrics(context).UploadStarted())
            {
                whole = await blobs.UploadWholeAsync(route.Name, digest, context.Request.Body, context.Request.ContentLength, ct);
            }
            if (!whole.IsOk) return whole.Error;
            BlobStored(context, whole.Value!);
            BlobCreated(context, route.Name, digest);
            return null;
        }
        var started = await blobs.StartUploadAsync(route.Name, query["digest-algorithm"].ToString(), Opener(context), ct);
        if (!started.IsOk) return started.Error;
        UploadAccepted(context, route.Name, started.Value!.Id, 0, StatusCodes.Status202Accepted);
        return null;
    }

    private static async ValueTask<RegistryError?> UploadStatusAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!Guid.TryParse(route.Argument, out var id)) return RegistryError.BlobUploadUnknown();
        var session = await Blobs(context).GetUploadAsync(route.Name, id, ct);
        if (!session.IsOk) return session.Error;
        UploadAccepted(context, route.Name, id, session.Value!.Offset, StatusCodes.Status204NoContent);
        return null;
    }

    private static async ValueTask<RegistryError?> PatchUploadAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!Guid.TryParse(route.Argument, out var id)) return RegistryError.BlobUploadUnknown();
        if (!TryParseContentRange(context.Request.Headers.ContentRange.ToString(), out var range, out var rangeError)) return rangeError;
        var blobs = Blobs(context);
        RegistryResult<UploadSession> result;
        using (Metrics(context).UploadStarted())
        {
            result = await blobs.AppendAsync(route.Name, id, context.Request.Body, range, context.Request.ContentLength, ct);
        }
        if (!result.IsOk) return await WithUploadStateAsync(context, route, id, result.Error!, ct);
        UploadAccepted(context, route.Name, id, result.Value!.Offset, StatusCodes.Status202Accepted);
        return null;
    }

    private static async ValueTask<RegistryError?> CompleteUploadAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!Guid.TryParse(route.Argument, out var id)) return RegistryError.BlobUploadUnknown();
        if (!TryParseDigest(context.Request.Query["digest"].ToString(), out var digest, out var digestError)) return digestError;
        if (!TryParseContentRange(context.Request.Headers.ContentRange.ToString(), out var range, out var rangeError)) return rangeError;
        var request = context.Request;
        var hasBody = request.ContentLength > 0 || (request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);
        RegistryResult<BlobInfo> result;
        using (Metrics(context).UploadStarted())
        {
            result = await Blobs(context).CompleteUploadAsync(route.Name, id, digest, hasBody ? request.Body : null, range, request.ContentLength, ct);
        }
        if (!result.IsOk) return await WithUploadStateAsync(context, route, id, result.Error!, ct);
        BlobStored(context, result.Value!);
        BlobCreated(context, route.Name, result.Value!.Digest);
        return null;
    }

    private static async ValueTask<RegistryError?> CancelUploadAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!Guid.TryParse(route.Argument, out var id) || !await Blobs(context).CancelUploadAsync(route.Name, id, ct))
        {
            return RegistryError.BlobUploadUnknown();
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return null;
    }

    /// <summary>A 416 tells the client where to resume: it carries the session's Location and Range, as a status GET would.</summary>
    private static async ValueTask<RegistryError> WithUploadStateAsync(HttpContext context, DistributionRoute route, Guid id, RegistryError error, CancellationToken ct)
    {
        if (error.Status == StatusCodes.Status416RangeNotSatisfiable)
        {
            var session = await Blobs(context).GetUploadAsync(route.Name, id, ct);
            if (session.IsOk) SetUploadHeaders(context.Response, route.Name, id, session.Value!.Offset);
        }
        return error;
    }

    private static void UploadAccepted(HttpContext context, string name, Guid id, long offset, int status)
    {
        var response = context.Response;
        response.StatusCode = status;
        SetUploadHeaders(response, name, id, offset);
        if (status != StatusCodes.Status204NoContent) response.ContentLength = 0;
    }

    private static void SetUploadHeaders(HttpResponse response, string name, Guid id, long offset)
    {
        response.Headers.Location = $"/v2/{name}/blobs/uploads/{id:D}";
        response.Headers[UploadUuidHeader] = id.ToString("D");
        response.Headers.Range = string.Create(CultureInfo.InvariantCulture, $"0-{Math.Max(offset - 1, 0)}");
    }

    /// <summary>Counts a blob whose upload was verified and stored.</summary>
    private static void BlobStored(HttpContext context, BlobInfo blob)
    {
        var metrics = Metrics(context);
        metrics.Pushed(ContentKind.Blob);
        metrics.BlobUploaded(blob.Size);
    }

    private static void BlobCreated(HttpContext context, string name, Digest digest)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{name}/blobs/{digest}";
        response.Headers[DigestHeader] = digest.ToString();
        response.ContentLength = 0;
    }

    /// <summary>Parses <c>start-end</c> (also <c>bytes start-end/total</c>); an absent header is no range.</summary>
    internal static bool TryParseContentRange(string? header, out BlobService.ChunkRange? range, out RegistryError? error)
    {
        range = null;
        error = null;
        if (string.IsNullOrWhiteSpace(header)) return true;
        var text = header.AsSpan().Trim();
        if (text.StartsWith("bytes")) text = text[5..].TrimStart(" =");
        var slash = text.IndexOf('/');
        if (slash >= 0) text = text[..slash];
        var dash = text.IndexOf('-');
        if (dash > 0
            && long.TryParse(text[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            && long.TryParse(text[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var end))
        {
            if (end < start)
            {
                error = RegistryError.BlobUploadInvalid($"Content-Range '{header}' ends before it starts.", StatusCodes.Status416RangeNotSatisfiable);
                return false;
            }
            range = new BlobService.ChunkRange(start, end);
            return true;
        }
        error = RegistryError.BlobUploadInvalid($"Content-Range '{header}' is not of the form <start>-<end>.");
        return false;
    }

    // ---- discovery ----

    private static async ValueTask<RegistryError?> TagsAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryReadPaging(context, out var n, out var last, out var pagingError)) return pagingError;
        var result = await Registry(context).ListTagsAsync(route.Name, n, last, ct);
        if (!result.IsOk) return result.Error;
        var page = result.Value!;
        if (page.HasMore) SetNextLink(context, $"/v2/{route.Name}/tags/list", page.Items[^1], n);
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteString("name", route.Name);
            writer.WriteStartArray("tags");
            foreach (var tag in page.Items) writer.WriteStringValue(tag);
            writer.WriteEndArray();
        }, ct);
        return null;
    }

    private static async ValueTask<RegistryError?> CatalogAsync(HttpContext context, CancellationToken ct)
    {
        if (!TryReadPaging(context, out var n, out var last, out var pagingError)) return pagingError;
        // Filtered in SQL by what the caller may read (ICallerAccess). Registry bearer tokens and internal credentials
        // carry their own grants, which only the access policy reads: those callers take the per-name check below.
        if (context.RequestServices.GetService<Core.Repositories.RepositoryService>() is { } repositories
            && context.User.Method() is not (Caller.Bearer or Caller.Internal))
        {
            var size = Math.Min(n ?? Registry(context).Options.MaxPageSize, Registry(context).Options.MaxPageSize);
            var (names, hasMore) = await repositories.CatalogAsync(context.User, size, last, ct);
            if (hasMore) SetNextLink(context, "/v2/_catalog", names[^1], n);
            await WriteJsonAsync(context, writer =>
            {
                writer.WriteStartArray("repositories");
                foreach (var name in names) writer.WriteStringValue(name);
                writer.WriteEndArray();
            }, ct);
            return null;
        }
        var page = await Registry(context).ListRepositoriesAsync(n, last, ct);
        var policy = Policy(context);
        var visible = new List<string>(page.Items.Count);
        foreach (var name in page.Items)
        {
            if (await policy.CanPullAsync(context.User, name, ct)) visible.Add(name);
        }
        if (page.HasMore) SetNextLink(context, "/v2/_catalog", page.Items[^1], n);
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteStartArray("repositories");
            foreach (var name in visible) writer.WriteStringValue(name);
            writer.WriteEndArray();
        }, ct);
        return null;
    }

    private static bool TryReadPaging(HttpContext context, out int? n, out string? last, out RegistryError? error)
    {
        n = null;
        error = null;
        var query = context.Request.Query;
        last = query["last"].ToString() is { Length: > 0 } l ? l : null;
        var nText = query["n"].ToString();
        if (nText.Length == 0) return true;
        if (int.TryParse(nText, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            n = value;
            return true;
        }
        error = RegistryError.Unsupported($"n must be a non-negative integer, not '{nText}'.", StatusCodes.Status400BadRequest);
        return false;
    }

    private static void SetNextLink(HttpContext context, string path, string last, int? n)
    {
        var size = n is null ? "" : string.Create(CultureInfo.InvariantCulture, $"n={n}&");
        context.Response.Headers.Link = $"<{path}?{size}last={Uri.EscapeDataString(last)}>; rel=\"next\"";
    }

    private static async ValueTask<RegistryError?> ReferrersAsync(HttpContext context, DistributionRoute route, CancellationToken ct)
    {
        if (!TryParseDigest(route.Argument, out var subject, out var digestError)) return digestError;
        var artifactType = context.Request.Query["artifactType"].ToString();
        var referrers = await Registry(context).ListReferrersAsync(route.Name, subject, artifactType, ct);
        if (!string.IsNullOrEmpty(artifactType)) context.Response.Headers["OCI-Filters-Applied"] = "artifactType";
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciIndex);
            writer.WriteStartArray("manifests");
            foreach (var referrer in referrers)
            {
                writer.WriteStartObject();
                writer.WriteString("mediaType", referrer.MediaType);
                writer.WriteNumber("size", referrer.Size);
                writer.WriteString("digest", referrer.Digest.ToString());
                if (!string.IsNullOrEmpty(referrer.ArtifactType)) writer.WriteString("artifactType", referrer.ArtifactType);
                if (!string.IsNullOrEmpty(referrer.AnnotationsJson))
                {
                    writer.WritePropertyName("annotations");
                    writer.WriteRawValue(referrer.AnnotationsJson, skipInputValidation: true);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }, ct, MediaTypes.OciIndex);
        return null;
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> body, CancellationToken ct, string contentType = "application/json")
    {
        context.Response.ContentType = contentType;
        var buffer = new ArrayBufferWriter<byte>(256);
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
    }

    // ---- services ----

    private static RegistryService Registry(HttpContext context) => context.RequestServices.GetRequiredService<RegistryService>();
    private static BlobService Blobs(HttpContext context) => context.RequestServices.GetRequiredService<BlobService>();
    private static Proxy.PullThroughCache? Proxy(HttpContext context) => context.RequestServices.GetService<Proxy.PullThroughCache>();
    private static ChangeActor Actor(HttpContext context) => ChangeActor.From(context.User, Accounts.WharfAuthenticationMiddleware.ClientAddress(context));
    private static WharfMetrics Metrics(HttpContext context) => context.RequestServices.GetRequiredService<WharfMetrics>();
    /// <summary>Who opens an upload: the signed-in user and the client's address (an IPv4 client as IPv4, however it connected).</summary>
    private static Core.Storage.UploadOpener Opener(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (address is { IsIPv4MappedToIPv6: true }) address = address.MapToIPv4();
        return new Core.Storage.UploadOpener(context.User.Username(), address?.ToString());
    }

    private static IRegistryAccessPolicy Policy(HttpContext context) => context.RequestServices.GetRequiredService<IRegistryAccessPolicy>();
    private static ILogger Logger(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DistributionApi));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Client went away during {Method} {Path}")]
        public static partial void ClientDisconnected(ILogger logger, string method, PathString path);

        [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Storage failed during {Method} {Path}")]
        public static partial void StorageFailed(ILogger logger, Exception exception, string method, PathString path);
    }
}
