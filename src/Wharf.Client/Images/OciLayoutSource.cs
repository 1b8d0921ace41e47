using System.Text.Json;
using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Client.Images;

/// <summary>
/// An image from an OCI image layout folder (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/ALG/HEX</c>). The entry is the one
/// whose <c>org.opencontainers.image.ref.name</c> is the wanted tag, else the layout's only entry. An index entry brings all its
/// child manifests.
/// </summary>
public sealed class OciLayoutSource : IImageSource
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    private readonly string _root;
    private readonly IAsyncDisposable? _owned;

    private OciLayoutSource(string root, string description, IReadOnlyList<ImageManifest> manifests, IAsyncDisposable? owned)
    {
        _root = root;
        Description = description;
        Manifests = manifests;
        _owned = owned;
    }

    public string Description { get; }

    public IReadOnlyList<ImageManifest> Manifests { get; }

    public static async Task<OciLayoutSource> OpenAsync(string root, string? tag, CancellationToken cancellationToken, IAsyncDisposable? owned = null, string? description = null)
    {
        var indexPath = Path.Combine(root, "index.json");
        if (!File.Exists(indexPath))
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{root} is not an OCI image layout: it has no index.json.");
        }
        var index = await ReadVerifiedAsync(indexPath, null, cancellationToken);
        var parsed = Parse(index, MediaTypes.OciIndex, indexPath);
        var entries = parsed.Manifests;
        if (entries.Count == 0) throw new WharfClientException(ClientErrorKind.InvalidInput, $"The OCI layout {root} holds no image.");
        var named = entries.Select(e => (Entry: e, Name: RefName(e))).ToList();
        var chosen = named.FirstOrDefault(e => tag is not null && e.Name == tag).Entry
            ?? (entries.Count == 1 ? entries[0] : null)
            ?? named.FirstOrDefault(e => e.Name is not null && tag is not null && e.Name.EndsWith(":" + tag, StringComparison.Ordinal)).Entry
            ?? throw new WharfClientException(ClientErrorKind.InvalidInput,
                $"The OCI layout {root} holds {entries.Count} images ({string.Join(", ", named.Select(n => n.Name ?? n.Entry.Digest.ToString()))}); none is tagged '{tag}'.");
        var manifests = new List<ImageManifest>();
        await CollectAsync(root, chosen, manifests, 0, cancellationToken);
        return new OciLayoutSource(root, description ?? $"OCI layout {root}", manifests, owned);
    }

    private static string? RefName(Descriptor descriptor)
    {
        if (descriptor.AnnotationsJson is null) return null;
        using var doc = JsonDocument.Parse(descriptor.AnnotationsJson);
        return doc.RootElement.TryGetProperty(RefNameAnnotation, out var name) ? name.GetString() : null;
    }

    private static async Task CollectAsync(string root, Descriptor descriptor, List<ImageManifest> into, int depth, CancellationToken cancellationToken)
    {
        if (depth > 4) throw new WharfClientException(ClientErrorKind.InvalidInput, "The OCI layout nests indexes too deeply.");
        if (into.Any(m => m.Digest == descriptor.Digest)) return;
        var path = BlobPath(root, descriptor.Digest);
        var content = await ReadVerifiedAsync(path, descriptor.Digest, cancellationToken);
        var manifest = Parse(content, descriptor.MediaType, path);
        if (manifest.IsIndex)
        {
            foreach (var child in manifest.Manifests) await CollectAsync(root, child, into, depth + 1, cancellationToken);
        }
        else
        {
            foreach (var blob in manifest.RequiredBlobs)
            {
                if (!File.Exists(BlobPath(root, blob.Digest)))
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, $"The OCI layout {root} lacks blob {blob.Digest}; the layout is incomplete or corrupt.");
                }
            }
        }
        into.Add(new ImageManifest(content, manifest.MediaType, descriptor.Digest));
    }

    internal static ParsedManifest Parse(byte[] content, string mediaType, string path)
    {
        var result = ManifestParser.Parse(content, null);
        if (!result.IsValid) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{path} is not a valid manifest: {result.Error}");
        var manifest = result.Manifest!;
        // A manifest without its own mediaType field takes the one its descriptor gives.
        return MediaTypes.Manifests.Contains(mediaType) && manifest.MediaType != mediaType && MediaTypes.IsIndex(mediaType) == manifest.IsIndex
            ? manifest with { MediaType = mediaType }
            : manifest;
    }

    private static async Task<byte[]> ReadVerifiedAsync(string path, Digest? digest, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{path} is missing; the OCI layout is incomplete.");
        if (info.Length > 4 * 1024 * 1024) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{path} is too large for a manifest.");
        var content = await File.ReadAllBytesAsync(path, cancellationToken);
        if (digest is { } expected && Digest.Compute(content, expected.Algorithm) != expected)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{path} does not match its digest {expected}; the OCI layout is corrupt.");
        }
        return content;
    }

    public static string BlobPath(string root, Digest digest) => Path.Combine(root, "blobs", digest.Algorithm, digest.Hex);

    public Task<Stream> OpenBlobAsync(Digest digest, CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(new FileStream(BlobPath(_root, digest), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan));

    public async ValueTask DisposeAsync()
    {
        if (_owned is not null) await _owned.DisposeAsync();
    }
}
