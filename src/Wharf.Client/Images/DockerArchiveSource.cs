using System.Buffers;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Core;
using Wharf.Core.Digests;

namespace Wharf.Client.Images;

/// <summary>
/// An image from a docker-archive (<c>docker save</c>: <c>manifest.json</c>, the config, one tar per layer). Layers are gzipped
/// into a temp folder while being hashed (never held in memory), checked against the config's <c>diff_ids</c>, and pushed as a
/// Docker schema2 manifest. The same archive always gives the same blobs, so a second push uploads nothing.
/// </summary>
public sealed class DockerArchiveSource : IImageSource
{
    private const int BufferSize = 1024 * 1024;
    private readonly TempFolder _temp;
    private readonly Dictionary<Digest, string> _blobFiles;
    private readonly byte[] _config;
    private readonly Digest _configDigest;

    private DockerArchiveSource(TempFolder temp, Dictionary<Digest, string> blobFiles, byte[] config, Digest configDigest, ImageManifest manifest, string description)
    {
        _temp = temp;
        _blobFiles = blobFiles;
        _config = config;
        _configDigest = configDigest;
        Manifests = [manifest];
        Description = description;
    }

    public string Description { get; }

    public IReadOnlyList<ImageManifest> Manifests { get; }

    /// <summary>Reads <paramref name="archivePath"/> (a seekable tar file). <paramref name="wanted"/> picks among several images by RepoTags.</summary>
    public static async Task<DockerArchiveSource> OpenAsync(string archivePath, string? wanted, ITransferObserver observer, CancellationToken cancellationToken)
    {
        // Pass 1: names, links and manifest.json.
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        byte[]? manifestJson = null;
        try
        {
            await using var file = OpenRead(archivePath);
            await using var reader = new TarReader(file);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (TarPaths.Normalize(entry.Name) is not { } name) continue;
                if (TarPaths.IsLink(entry) && TarPaths.ResolveLink(name, entry.LinkName) is { } target) links[name] = target;
                else if (name == "manifest.json" && entry.DataStream is not null)
                {
                    if (entry.Length > 4 * 1024 * 1024) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: manifest.json is too large.");
                    manifestJson = new byte[entry.Length];
                    await entry.DataStream.ReadExactlyAsync(manifestJson, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw TarPaths.Corrupt(archivePath, e);
        }
        if (manifestJson is null) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} has no manifest.json: it is not a docker-archive (docker save) file.");

        var (configName, layerNames) = ChooseImage(archivePath, manifestJson, wanted);
        string Resolve(string name)
        {
            for (var hops = 0; hops < 16 && links.TryGetValue(name, out var target); hops++) name = target;
            return name;
        }
        configName = Resolve(configName);
        layerNames = [.. layerNames.Select(Resolve)];

        // Pass 2: the config into memory (small), each layer gzipped into the temp folder.
        var temp = TempFolder.Create("wharf-push-");
        try
        {
            byte[]? config = null;
            var layers = new Dictionary<string, (Digest Digest, long Size, Digest? DiffId)>(StringComparer.Ordinal);
            var files = new Dictionary<string, string>(StringComparer.Ordinal);
            var wantedLayers = layerNames.ToHashSet(StringComparer.Ordinal);
            try
            {
                await using var file = OpenRead(archivePath);
                await using var reader = new TarReader(file);
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                {
                    if (TarPaths.Normalize(entry.Name) is not { } name || entry.DataStream is null || !TarPaths.IsFile(entry)) continue;
                    if (name == configName)
                    {
                        if (entry.Length > 16 * 1024 * 1024) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: the image config is too large.");
                        config = new byte[entry.Length];
                        await entry.DataStream.ReadExactlyAsync(config, cancellationToken);
                    }
                    if (wantedLayers.Contains(name) && !layers.ContainsKey(name))
                    {
                        files[name] = temp.Combine($"layer-{files.Count}");
                        layers[name] = await CompressAsync(entry.DataStream, entry.Length, files[name], name, observer, cancellationToken);
                    }
                }
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
            {
                throw TarPaths.Corrupt(archivePath, e);
            }
            if (config is null) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} lacks the image config {configName}.");
            var missing = layerNames.FirstOrDefault(n => !layers.ContainsKey(n));
            if (missing is not null) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} lacks the layer {missing}; the archive is incomplete.");

            CheckDiffIds(archivePath, config, layerNames.Select(n => layers[n].DiffId).ToList());
            var configDigest = Digest.Compute(config);
            var blobFiles = new Dictionary<Digest, string>();
            foreach (var (name, layer) in layers) blobFiles[layer.Digest] = files[name];
            var manifest = BuildManifest(config, configDigest, layerNames.Select(n => (layers[n].Digest, layers[n].Size)).ToList());
            return new DockerArchiveSource(temp, blobFiles, config, configDigest,
                new ImageManifest(manifest, MediaTypes.DockerManifest, Digest.Compute(manifest)), $"docker-archive {archivePath}");
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    private static FileStream OpenRead(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private static (string Config, List<string> Layers) ChooseImage(string archivePath, byte[] manifestJson, string? wanted)
    {
        try
        {
            using var doc = JsonDocument.Parse(manifestJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() == 0)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: manifest.json lists no image.");
            }
            var images = doc.RootElement.EnumerateArray().ToList();
            var chosen = images.Count == 1 ? images[0] : images.FirstOrDefault(i =>
                i.TryGetProperty("RepoTags", out var tags) && tags.ValueKind == JsonValueKind.Array &&
                tags.EnumerateArray().Any(t => wanted is not null && (t.GetString() == wanted || t.GetString()?.EndsWith("/" + wanted, StringComparison.Ordinal) == true)));
            if (chosen.ValueKind != JsonValueKind.Object)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} holds {images.Count} images and none is tagged {wanted}.");
            }
            var config = chosen.GetProperty("Config").GetString() ?? throw new FormatException("Config is null");
            var layers = chosen.GetProperty("Layers").EnumerateArray().Select(l => l.GetString() ?? throw new FormatException("layer is null")).ToList();
            return (TarPaths.Normalize(config) ?? config, [.. layers.Select(l => TarPaths.Normalize(l) ?? l)]);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: manifest.json is not a docker-archive manifest ({e.Message}).");
        }
    }

    private static async Task<(Digest Digest, long Size, Digest? DiffId)> CompressAsync(Stream input, long length, string path, string name, ITransferObserver observer,
        CancellationToken cancellationToken)
    {
        var progress = observer.Start("compress:" + name, $"compressing {name}", length);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            var first = await ReadAtLeastAsync(input, buffer, 2, cancellationToken);
            var alreadyGzip = first >= 2 && buffer[0] == 0x1f && buffer[1] == 0x8b;
            await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous);
            await using var hashing = new HashingWriteStream(output, leaveOpen: true);
            using var diffHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long done = 0;
            if (alreadyGzip)
            {
                await hashing.WriteAsync(buffer.AsMemory(0, first), cancellationToken);
                done = first;
                int read;
                while ((read = await input.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
                {
                    await hashing.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    progress.Report(done += read);
                }
            }
            else
            {
                await using (var gzip = new GZipStream(hashing, CompressionLevel.Fastest, leaveOpen: true))
                {
                    var read = first;
                    while (read > 0)
                    {
                        diffHash.AppendData(buffer.AsSpan(0, read));
                        await gzip.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        progress.Report(done += read);
                        read = await input.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken);
                    }
                }
            }
            await hashing.FlushAsync(cancellationToken);
            if (done != length) throw new EndOfStreamException($"layer {name} ended after {done} of {length} bytes");
            observer.Complete("compress:" + name, "compressed");
            return (hashing.GetDigest(), hashing.BytesWritten, alreadyGzip ? null : Digest.FromHash(Digest.Sha256, diffHash.GetCurrentHash()));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<int> ReadAtLeastAsync(Stream input, byte[] buffer, int minimum, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < minimum)
        {
            var read = await input.ReadAsync(buffer.AsMemory(total, BufferSize - total), cancellationToken);
            if (read == 0) break;
            total += read;
        }
        return total;
    }

    private static void CheckDiffIds(string archivePath, byte[] config, List<Digest?> computed)
    {
        List<string?> declared;
        try
        {
            using var doc = JsonDocument.Parse(config);
            declared = doc.RootElement.TryGetProperty("rootfs", out var rootfs) && rootfs.TryGetProperty("diff_ids", out var ids)
                ? [.. ids.EnumerateArray().Select(i => i.GetString())]
                : [];
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: the image config is not valid JSON ({e.Message}).");
        }
        if (declared.Count != computed.Count)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: the config lists {declared.Count} layers but manifest.json {computed.Count}; the archive is corrupt.");
        }
        for (var i = 0; i < computed.Count; i++)
        {
            if (computed[i] is { } diffId && diffId.ToString() != declared[i])
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: layer {i} has content {diffId} but the config expects {declared[i]}; the archive is corrupt.");
            }
        }
    }

    private static byte[] BuildManifest(byte[] config, Digest configDigest, List<(Digest Digest, long Size)> layers)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", 2);
            json.WriteString("mediaType", MediaTypes.DockerManifest);
            json.WriteStartObject("config");
            json.WriteString("mediaType", MediaTypes.DockerConfig);
            json.WriteNumber("size", config.Length);
            json.WriteString("digest", configDigest.ToString());
            json.WriteEndObject();
            json.WriteStartArray("layers");
            foreach (var (digest, size) in layers)
            {
                json.WriteStartObject();
                json.WriteString("mediaType", MediaTypes.DockerLayerGzip);
                json.WriteNumber("size", size);
                json.WriteString("digest", digest.ToString());
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public Task<Stream> OpenBlobAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (digest == _configDigest) return Task.FromResult<Stream>(new MemoryStream(_config, writable: false));
        if (_blobFiles.TryGetValue(digest, out var path)) return Task.FromResult<Stream>(OpenRead(path));
        throw new KeyNotFoundException($"The archive has no blob {digest}.");
    }

    public ValueTask DisposeAsync() => _temp.DisposeAsync();
}
