using Wharf.Core.Digests;
using Wharf.Core.Events;
using Wharf.Core.Storage;

namespace Wharf.Core.Registry;

/// <summary>
/// Blob reads and uploads of the distribution API. A blob is visible only through a repository that links it;
/// an upload links its blob into the repository it was started in once the content is verified. Every open upload
/// session is recorded in the <see cref="IUploadSessionIndex"/> with who opened it, so the limits on open sessions per
/// user and per address hold across nodes.
/// </summary>
public sealed class BlobService(IBlobStore blobs, IUploadStore uploads, IUploadSessionIndex sessions, IRegistryStore store, RegistryOptions options, RegistryEvents events)
{
    /// <summary>A byte range <c>start-end</c> (inclusive) as given by a chunk's <c>Content-Range</c>.</summary>
    public readonly record struct ChunkRange(long Start, long End)
    {
        public long Length => End - Start + 1;
    }

    /// <summary>A blob that a repository links (only <see cref="StatAsync"/> makes one): what reads go through.</summary>
    public readonly record struct LinkedBlob(Digest Digest, long Size);

    /// <summary>The size of a blob the repository links.</summary>
    public async ValueTask<RegistryResult<LinkedBlob>> StatAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var size = await store.GetLinkedBlobSizeAsync(repository, digest, cancellationToken);
        if (size is null) return RegistryError.BlobUnknown(digest.ToString());
        return new LinkedBlob(digest, size.Value);
    }

    /// <summary>Where the client may download a linked blob itself (a presigned URL), or null when Wharf serves it.</summary>
    public ValueTask<Uri?> GetDownloadUrlAsync(LinkedBlob blob, CancellationToken cancellationToken) =>
        blobs.GetDownloadUrlAsync(blob.Digest, cancellationToken);

    /// <summary>Opens <paramref name="length"/> bytes of a linked blob from <paramref name="offset"/> (a ranged read; the caller has checked the range).</summary>
    public async ValueTask<RegistryResult<Stream>> OpenAsync(LinkedBlob blob, long offset, long length, CancellationToken cancellationToken)
    {
        var stream = await blobs.OpenReadAsync(blob.Digest, offset, length, cancellationToken);
        if (stream is null) return RegistryError.BlobUnknown(blob.Digest.ToString());
        return stream;
    }

    /// <summary>Removes the repository's link to the blob (the content is left to garbage collection).</summary>
    public async ValueTask<RegistryResult<bool>> DeleteAsync(string repository, Digest digest, ChangeActor actor, CancellationToken cancellationToken)
    {
        if (!options.DeleteEnabled) return RegistryError.Unsupported("Deleting is disabled on this registry.");
        var change = new BlobDeleted(repository, digest, actor, events.Now);
        if (!await store.UnlinkBlobAsync(repository, digest, change, cancellationToken)) return RegistryError.BlobUnknown(digest.ToString());
        await events.PublishAsync(change);
        return true;
    }

    /// <summary>
    /// Links a blob that <paramref name="from"/> links into <paramref name="repository"/>. False when the source does
    /// not link it (the caller then starts an ordinary upload). The caller checks pull access to <paramref name="from"/>.
    /// </summary>
    public async ValueTask<bool> TryMountAsync(string repository, string from, Digest digest, CancellationToken cancellationToken)
    {
        var size = await store.GetLinkedBlobSizeAsync(from, digest, cancellationToken);
        if (size is null || await blobs.StatAsync(digest, cancellationToken) is null) return false;
        // The link is re-checked in its transaction: a blob the collector claimed meanwhile is not mounted.
        return await store.LinkBlobAsync(repository, digest, size.Value, IsStoredAsync(digest), cancellationToken) == LinkBlobStatus.Linked;
    }

    /// <summary>
    /// Opens an upload session for <paramref name="opener"/>, unless that user or that address already has as many open
    /// as <see cref="RegistryOptions.MaxUploadSessionsPerUser"/> or <see cref="RegistryOptions.MaxUploadSessionsPerAddress"/>
    /// allow (429 <c>TOOMANYREQUESTS</c>; the refused session's storage is freed at once).
    /// </summary>
    public async ValueTask<RegistryResult<UploadSession>> StartUploadAsync(string repository, string? digestAlgorithm, UploadOpener opener, CancellationToken cancellationToken)
    {
        var algorithm = string.IsNullOrEmpty(digestAlgorithm) ? Digest.Sha256 : digestAlgorithm;
        if (!Digest.IsSupportedAlgorithm(algorithm))
        {
            return RegistryError.DigestInvalid($"Digest algorithm '{digestAlgorithm}' is not supported; use sha256 or sha512.");
        }
        var limits = options.SessionLimits();
        var session = await uploads.StartAsync(repository, algorithm, cancellationToken);
        UploadAdmission admission;
        try
        {
            admission = await sessions.AdmitAsync(session.Id, opener, limits, events.Now, cancellationToken);
        }
        catch
        {
            await uploads.CancelAsync(session.Id, repository, CancellationToken.None);
            throw;
        }
        if (admission == UploadAdmission.Admitted) return session;
        await uploads.CancelAsync(session.Id, repository, CancellationToken.None);
        return TooManySessions(admission, opener, limits);
    }

    private static string Span(TimeSpan span) => span.TotalMinutes < 1
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} s")
        : span.TotalHours < 1 || span.TotalHours != Math.Floor(span.TotalHours)
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{span.TotalMinutes:0.#} min")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{span.TotalHours:0} h");

    private static RegistryError TooManySessions(UploadAdmission admission, UploadOpener opener, UploadSessionLimits limits)
    {
        var (who, limit, setting) = admission == UploadAdmission.UserAtLimit
            ? ($"user '{opener.User}'", limits.PerUser, "Wharf:Registry:MaxUploadSessionsPerUser")
            : ($"address {opener.Address}", limits.PerAddress, "Wharf:Registry:MaxUploadSessionsPerAddress");
        return new RegistryError(RegistryErrorCode.TooManyRequests,
            $"too many uploads in progress: {who} has {limit} upload sessions open, the most this registry allows ({setting}); " +
            $"finish or cancel some, or wait until idle ones expire (after {Span(limits.IdleTimeout)} without data)",
            429, new { limit, setting });
    }

    public async ValueTask<RegistryResult<UploadSession>> GetUploadAsync(string repository, Guid id, CancellationToken cancellationToken)
    {
        var session = await uploads.GetAsync(id, cancellationToken);
        if (session is null || session.Repository != repository) return RegistryError.BlobUploadUnknown();
        return session;
    }

    /// <summary>Appends a chunk. With a range, the chunk must start at the session's offset and be exactly that long.</summary>
    public async ValueTask<RegistryResult<UploadSession>> AppendAsync(
        string repository, Guid id, Stream content, ChunkRange? range, long? contentLength, CancellationToken cancellationToken)
    {
        var expectedLength = range?.Length ?? contentLength;
        if (range is not null && contentLength is not null && contentLength != range.Value.Length)
        {
            return RegistryError.SizeInvalid($"Content-Length {contentLength} does not match Content-Range {range.Value.Start}-{range.Value.End}.");
        }
        var result = await uploads.AppendAsync(id, repository, content, range?.Start, expectedLength, cancellationToken);
        if (!result.IsOk) return UploadError(result);
        await sessions.TouchAsync(id, events.Now, cancellationToken);
        return result.Session!;
    }

    /// <summary>Appends an optional final chunk, verifies the digest, stores the blob and links it into the repository.</summary>
    public async ValueTask<RegistryResult<BlobInfo>> CompleteUploadAsync(
        string repository, Guid id, Digest digest, Stream? finalChunk, ChunkRange? range, long? contentLength, CancellationToken cancellationToken)
    {
        UploadChunk? chunk = null;
        if (finalChunk is not null)
        {
            if (range is not null && contentLength is not null && contentLength != range.Value.Length)
            {
                return RegistryError.SizeInvalid($"Content-Length {contentLength} does not match Content-Range {range.Value.Start}-{range.Value.End}.");
            }
            chunk = new UploadChunk(finalChunk, range?.Start, range?.Length ?? contentLength);
        }
        var result = await uploads.CommitAsync(id, repository, digest, chunk, cancellationToken);
        if (result.IsOk) await sessions.RemoveAsync(id, CancellationToken.None);
        return await LinkCommittedAsync(repository, digest, result, cancellationToken);
    }

    /// <summary>A whole blob in one request (the single-POST monolithic upload): no session, so nothing is left when it fails.</summary>
    public async ValueTask<RegistryResult<BlobInfo>> UploadWholeAsync(
        string repository, Digest digest, Stream content, long? contentLength, CancellationToken cancellationToken)
    {
        var result = await uploads.WriteAsync(digest, content, contentLength, cancellationToken);
        return await LinkCommittedAsync(repository, digest, result, cancellationToken);
    }

    private async ValueTask<RegistryResult<BlobInfo>> LinkCommittedAsync(string repository, Digest digest, UploadResult result, CancellationToken cancellationToken)
    {
        switch (result.Status)
        {
            case UploadStatus.Ok:
                // The content is in place (or was already), but the collector may be deleting that object: the link decides,
                // in its transaction, and when it loses the client uploads again (the session's data went into the object).
                var linked = await store.LinkBlobAsync(repository, result.Blob!.Digest, result.Blob.Size, IsStoredAsync(result.Blob.Digest), cancellationToken);
                if (linked == LinkBlobStatus.Gone)
                {
                    return RegistryError.Unavailable($"Blob {result.Blob.Digest} was being removed by garbage collection while it was uploaded; upload it again.");
                }
                return result.Blob;
            case UploadStatus.DigestMismatch:
                return new RegistryError(RegistryErrorCode.DigestInvalid, "provided digest did not match uploaded content", 400,
                    new { expected = digest.ToString(), actual = result.ActualDigest?.ToString() });
            default:
                return UploadError(result);
        }
    }

    private Func<CancellationToken, ValueTask<bool>> IsStoredAsync(Digest digest) =>
        async ct => await blobs.StatAsync(digest, ct) is not null;

    private static RegistryError UploadError(UploadResult result) => result.Status switch
    {
        UploadStatus.RangeMismatch => new RegistryError(RegistryErrorCode.BlobUploadInvalid,
            $"The chunk must start at offset {result.Session?.Offset ?? 0}.", 416, new { offset = result.Session?.Offset ?? 0 }),
        UploadStatus.SizeInvalid => RegistryError.SizeInvalid("The chunk's length does not match the declared length."),
        _ => RegistryError.BlobUploadUnknown(),
    };

    public async ValueTask<bool> CancelUploadAsync(string repository, Guid id, CancellationToken cancellationToken)
    {
        if (!await uploads.CancelAsync(id, repository, cancellationToken)) return false;
        await sessions.RemoveAsync(id, CancellationToken.None);
        return true;
    }
}
