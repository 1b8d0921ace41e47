using Wharf.Client.Registry;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Client.Images;

/// <summary>What a push did.</summary>
public sealed record PushResult(Digest Digest, string MediaType, int BlobsUploaded, int BlobsSkipped, int BlobsMounted, long BytesUploaded);

/// <summary>
/// Pushes an <see cref="IImageSource"/>: every blob (a few at a time) unless the repository has it (HEAD) or the registry can
/// mount it from another repository of the caller; then the child manifests by digest and the root by tag.
/// </summary>
public sealed class ImagePusher(RegistryClient client, ITransferObserver observer)
{
    /// <summary>Concurrent blob uploads, as docker does.</summary>
    public int Parallelism { get; init; } = 3;

    /// <summary>Where a blob might be mounted from (a repository of the caller that has it), or null.</summary>
    public Func<Digest, string?>? MountSource { get; init; }

    public async Task<PushResult> PushAsync(IImageSource source, string repository, string tag, CancellationToken cancellationToken)
    {
        var blobs = new Dictionary<Digest, Descriptor>();
        foreach (var manifest in source.Manifests)
        {
            var parsed = OciLayoutSource.Parse(manifest.Content, manifest.MediaType, source.Description);
            foreach (var blob in parsed.RequiredBlobs) blobs.TryAdd(blob.Digest, blob);
        }
        int uploaded = 0, skipped = 0, mounted = 0;
        var before = client.BytesUploaded;
        // Biggest first, so the long uploads overlap the short ones.
        await Parallel.ForEachAsync(blobs.Values.OrderByDescending(b => b.Size), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (blob, ct) =>
            {
                var id = blob.Digest.ToString();
                var progress = observer.Start(id, $"{blob.Digest.Hex[..12]}", blob.Size);
                var from = MountSource?.Invoke(blob.Digest);
                var outcome = await client.UploadBlobAsync(repository, blob.Digest, blob.Size, c => source.OpenBlobAsync(blob.Digest, c), from, progress, ct);
                switch (outcome)
                {
                    case BlobUploadOutcome.Uploaded: Interlocked.Increment(ref uploaded); break;
                    case BlobUploadOutcome.Mounted: Interlocked.Increment(ref mounted); break;
                    default: Interlocked.Increment(ref skipped); break;
                }
                observer.Complete(id, outcome switch { BlobUploadOutcome.Uploaded => "pushed", BlobUploadOutcome.Mounted => "mounted", _ => "exists" });
            });
        var root = source.Manifests[^1];
        foreach (var child in source.Manifests.Take(source.Manifests.Count - 1))
        {
            await client.PutManifestAsync(repository, child.Digest.ToString(), child.Content, child.MediaType, cancellationToken);
        }
        var digest = await client.PutManifestAsync(repository, tag, root.Content, root.MediaType, cancellationToken);
        return new PushResult(digest, root.MediaType, uploaded, skipped, mounted, client.BytesUploaded - before);
    }
}
