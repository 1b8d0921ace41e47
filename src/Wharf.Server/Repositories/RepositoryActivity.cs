using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Storage;

namespace Wharf.Server.Repositories;

/// <summary>
/// Counts pulls in memory (<see cref="PullCounter"/>, flushed by <see cref="PullCountFlushService"/>) and, after a
/// manifest is stored, records the push: counters, the manifest's size and platforms for tag listings, and the image
/// config's labels for search. A failure to record is logged and never fails the push.
/// </summary>
public sealed partial class RepositoryActivity(
    IRepositoryStore store, IBlobStore blobs, PullCounter pulls, RepositoryOptions options, TimeProvider time, ILogger<RepositoryActivity> logger) : IRegistryActivity
{
    public void ManifestPulled(string repository, string? tag) => pulls.Record(repository, tag);

    public async ValueTask ManifestPushedAsync(string repository, Digest digest, ParsedManifest manifest, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        try
        {
            // Not the request's token: the manifest is stored, so its details are recorded even if the client has gone.
            var details = manifest.IsIndex
                ? await IndexDetailsAsync(repository, manifest, CancellationToken.None)
                : await ImageDetailsAsync(manifest, CancellationToken.None);
            await store.RecordPushAsync(repository, digest, details, tags.Count > 0, time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.RecordFailed(logger, e, repository, digest.ToString());
        }
    }

    private async Task<ManifestDetails> ImageDetailsAsync(ParsedManifest manifest, CancellationToken cancellationToken)
    {
        long size = 0;
        foreach (var layer in manifest.Layers) size += layer.Size;
        string? platform = null;
        IReadOnlyDictionary<string, string>? labels = null;
        if (manifest.Config is { } config && IsImageConfig(config.MediaType) && config.Size <= options.MaxConfigBytes && config.Size > 0)
        {
            var bytes = await ReadBoundedAsync(config.Digest, (int)config.Size, cancellationToken);
            if (bytes is not null) (platform, labels) = ImageConfigReader.ReadConfig(bytes);
        }
        return new ManifestDetails(size, platform is null ? [] : [platform], labels);
    }

    private async Task<ManifestDetails> IndexDetailsAsync(string repository, ParsedManifest index, CancellationToken cancellationToken)
    {
        var children = await store.GetDetailsAsync(repository, index.Manifests.Select(m => m.Digest).ToList(), cancellationToken);
        long size = 0;
        var platforms = new List<string>();
        IReadOnlyDictionary<string, string>? labels = null;
        foreach (var child in index.Manifests)
        {
            children.TryGetValue(child.Digest, out var details);
            var platform = ImageConfigReader.ReadPlatform(child.PlatformJson) ?? details?.Platforms.FirstOrDefault();
            if (platform is null) continue; // attestations and other non-images
            if (!platforms.Contains(platform, StringComparer.Ordinal)) platforms.Add(platform);
            size += details?.Size ?? 0;
            labels ??= details?.Labels;
        }
        return new ManifestDetails(size, platforms, labels);
    }

    private static bool IsImageConfig(string mediaType) =>
        mediaType is MediaTypes.OciConfig or MediaTypes.DockerConfig;

    private async Task<byte[]?> ReadBoundedAsync(Digest digest, int size, CancellationToken cancellationToken)
    {
        await using var stream = await blobs.OpenReadAsync(digest, 0, size, cancellationToken);
        if (stream is null) return null;
        var buffer = new byte[size];
        var read = 0;
        while (read < size)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0) return null;
            read += n;
        }
        return buffer;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Could not record the push of {Digest} to {Repository} for listings and search")]
        public static partial void RecordFailed(ILogger logger, Exception exception, string repository, string digest);
    }
}
