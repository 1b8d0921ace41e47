using System.Buffers;
using System.Text.Json.Nodes;
using Wharf.Client.Registry;
using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Client.Images;

/// <summary>
/// What a pull resolved: the root (maybe an index), the image manifest chosen, its parsed form; after a pull into an OCI
/// layout, the manifest the layout names (<see cref="LayoutManifest"/>: an OCI manifest, converted from Docker schema2).
/// </summary>
public sealed record PulledImage(RegistryManifest Root, RegistryManifest Image, ParsedManifest Parsed, Platform? Platform)
{
    public ImageManifest? LayoutManifest { get; init; }

    /// <summary>The layout holds another manifest than the registry's (a Docker schema2 image written as OCI).</summary>
    public bool Converted => LayoutManifest is { } m && m.Digest != Image.Digest;
}

/// <summary>
/// Pulls one image into an OCI image layout folder: resolves the reference, picks the platform from an index, downloads the
/// config and layers (each straight to a temp file in the layout, hashed while written, renamed only when the digest matches),
/// then writes the manifest and an <c>index.json</c> entry named after the tag. A Docker schema2 manifest is written as the OCI
/// manifest it stands for (<see cref="OciManifestConversion"/>), since a layout's index may name only OCI media types.
/// </summary>
public sealed class ImagePuller(RegistryClient client, ITransferObserver observer)
{
    public int Parallelism { get; init; } = 3;

    public async Task<PulledImage> ResolveAsync(string repository, string reference, Platform? platform, CancellationToken cancellationToken)
    {
        var root = await client.GetManifestAsync(repository, reference, cancellationToken);
        var parsed = Parse(root);
        if (!parsed.IsIndex) return new PulledImage(root, root, parsed, platform);
        var wanted = platform ?? Platform.Host;
        var entry = parsed.Manifests.FirstOrDefault(m => wanted.Matches(Platform.FromJson(m.PlatformJson)))
            ?? throw new WharfClientException(ClientErrorKind.NotFound,
                $"{repository}:{reference} has no image for {wanted}; it has {string.Join(", ", parsed.Manifests.Select(m => Platform.FromJson(m.PlatformJson)?.ToString() ?? "unknown"))}. Use --platform.");
        var image = await client.GetManifestAsync(repository, entry.Digest.ToString(), cancellationToken);
        var imageParsed = Parse(image);
        if (imageParsed.IsIndex) throw new WharfClientException(ClientErrorKind.Failure, "Nested indexes are not supported.");
        return new PulledImage(root, image, imageParsed, Platform.FromJson(entry.PlatformJson));
    }

    public async Task<PulledImage> PullToLayoutAsync(string repository, string reference, Platform? platform, string layoutPath, string? refName,
        CancellationToken cancellationToken)
    {
        var image = await ResolveAsync(repository, reference, platform, cancellationToken);
        Directory.CreateDirectory(layoutPath);
        var blobs = image.Parsed.RequiredBlobs.DistinctBy(b => b.Digest).ToList();
        await Parallel.ForEachAsync(blobs.OrderByDescending(b => b.Size), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (blob, ct) => await DownloadAsync(repository, blob, layoutPath, ct));
        var manifest = OciManifestConversion.ForLayout(image.Image.Content, image.Image.MediaType);
        await WriteBlobAsync(layoutPath, manifest.Digest, manifest.Content, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(layoutPath, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""", cancellationToken);
        await UpdateIndexAsync(layoutPath, manifest, image.Platform, refName, cancellationToken);
        return image with { LayoutManifest = manifest };
    }

    private async Task DownloadAsync(string repository, Descriptor blob, string layoutPath, CancellationToken cancellationToken)
    {
        var id = blob.Digest.ToString();
        var target = OciLayoutSource.BlobPath(layoutPath, blob.Digest);
        var progress = observer.Start(id, blob.Digest.Hex[..12], blob.Size);
        if (File.Exists(target) && new FileInfo(target).Length == blob.Size)
        {
            observer.Complete(id, "exists");
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + $".{Guid.NewGuid():N}.partial";
        try
        {
            await using (var input = await client.OpenBlobAsync(repository, blob.Digest, cancellationToken))
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous))
            await using (var hashing = new HashingWriteStream(file, leaveOpen: true))
            {
                var buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
                try
                {
                    int read;
                    while ((read = await input.ReadAsync(buffer.AsMemory(0, 1024 * 1024), cancellationToken)) > 0)
                    {
                        await hashing.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        progress.Report(hashing.BytesWritten);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                if (hashing.BytesWritten != blob.Size || (blob.Digest.Algorithm == Digest.Sha256 && hashing.GetDigest() != blob.Digest))
                {
                    throw new WharfClientException(ClientErrorKind.Failure, $"Blob {blob.Digest} arrived damaged ({hashing.BytesWritten} of {blob.Size} bytes, or a different digest); try again.");
                }
            }
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        observer.Complete(id, "downloaded");
    }

    private static async Task WriteBlobAsync(string layoutPath, Digest digest, byte[] content, CancellationToken cancellationToken)
    {
        var path = OciLayoutSource.BlobPath(layoutPath, digest);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, content, cancellationToken);
    }

    private static async Task UpdateIndexAsync(string layoutPath, ImageManifest manifest, Platform? platform, string? refName, CancellationToken cancellationToken)
    {
        var indexPath = Path.Combine(layoutPath, "index.json");
        var index = File.Exists(indexPath)
            ? JsonNode.Parse(await File.ReadAllTextAsync(indexPath, cancellationToken)) as JsonObject ?? throw new WharfClientException(ClientErrorKind.InvalidInput, $"{indexPath} is not a JSON object.")
            : new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = new JsonArray() };
        if (index["manifests"] is not JsonArray manifests)
        {
            manifests = [];
            index["manifests"] = manifests;
        }
        if (refName is not null)
        {
            foreach (var old in manifests.Where(m => (string?)m?["annotations"]?[OciLayoutSource.RefNameAnnotation] == refName).ToList()) manifests.Remove(old);
        }
        var entry = new JsonObject
        {
            ["mediaType"] = manifest.MediaType,
            ["digest"] = manifest.Digest.ToString(),
            ["size"] = manifest.Content.Length,
        };
        if (platform is not null)
        {
            var p = new JsonObject { ["architecture"] = platform.Architecture, ["os"] = platform.Os };
            if (platform.Variant is not null) p["variant"] = platform.Variant;
            entry["platform"] = p;
        }
        if (refName is not null) entry["annotations"] = new JsonObject { [OciLayoutSource.RefNameAnnotation] = refName };
        manifests.Add(entry);
        await File.WriteAllTextAsync(indexPath, index.ToJsonString(), cancellationToken);
    }

    private static ParsedManifest Parse(RegistryManifest manifest)
    {
        var result = ManifestParser.Parse(manifest.Content, manifest.MediaType);
        return result.IsValid ? result.Manifest! : throw new WharfClientException(ClientErrorKind.Failure, $"The registry sent an invalid manifest: {result.Error}");
    }

}
