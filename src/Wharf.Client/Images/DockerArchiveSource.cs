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
public sealed partial class DockerArchiveSource : IImageSource
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

    /// <summary>
    /// Reads <paramref name="tarPath"/> (a seekable tar file; messages name <paramref name="shownPath"/>, the user's file, when
    /// the tar is a temporary copy). An archive of several images takes the one <paramref name="pick"/> names (a RepoTag, or
    /// <c>@N</c> for the Nth from 0), else the one tagged <paramref name="wanted"/>.
    /// </summary>
    public static async Task<DockerArchiveSource> OpenAsync(string tarPath, string? wanted, ITransferObserver observer, CancellationToken cancellationToken,
        string? shownPath = null, string? pick = null)
    {
        var archivePath = shownPath ?? tarPath;
        // Pass 1: names, links and manifest.json.
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        byte[]? manifestJson = null;
        try
        {
            await using var file = OpenRead(tarPath);
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

        var (configName, layerNames) = ChooseImage(archivePath, manifestJson, wanted, pick);
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
                await using var file = OpenRead(tarPath);
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

    private static (string Config, List<string> Layers) ChooseImage(string archivePath, byte[] manifestJson, string? wanted, string? pick)
    {
        try
        {
            using var doc = JsonDocument.Parse(manifestJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() == 0)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: manifest.json lists no image.");
            }
            var images = doc.RootElement.EnumerateArray().ToList();
            var chosen = Choose(archivePath, images, wanted, pick);
            var config = chosen.GetProperty("Config").GetString() ?? throw new FormatException("Config is null");
            var layers = chosen.GetProperty("Layers").EnumerateArray().Select(l => l.GetString() ?? throw new FormatException("layer is null")).ToList();
            return (TarPaths.Normalize(config) ?? config, [.. layers.Select(l => TarPaths.Normalize(l) ?? l)]);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath}: manifest.json is not a docker-archive manifest ({e.Message}).");
        }
    }

    private static JsonElement Choose(string archivePath, List<JsonElement> images, string? wanted, string? pick)
    {
        if (pick is { Length: > 1 } && pick[0] == '@')
        {
            if (int.TryParse(pick.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) && index < images.Count)
            {
                return images[index];
            }
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} holds {images.Count} image{(images.Count == 1 ? "" : "s")}: {pick} is not one of @0 to @{images.Count - 1}.");
        }
        if (pick is not null)
        {
            var named = images.Where(i => Tagged(i, pick)).ToList();
            if (named.Count > 0) return named[0];
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"{archivePath} has no image tagged {pick}; it holds {Listing(images)}.");
        }
        if (images.Count == 1) return images[0];
        var matching = wanted is null ? [] : images.Where(i => Tagged(i, wanted)).ToList();
        if (matching.Count > 0) return matching[0];
        var example = RepoTags(images[0]).FirstOrDefault() ?? "@0";
        throw new WharfClientException(ClientErrorKind.InvalidInput,
            $"{archivePath} holds {images.Count} images: {Listing(images)}. Say which to push with --image, e.g. --image {example}.");
    }

    /// <summary>An image is tagged <paramref name="name"/> when a RepoTag is it, ends with "/name", or is it with ":latest".</summary>
    private static bool Tagged(JsonElement image, string name)
    {
        var withTag = name.Contains(':', StringComparison.Ordinal) && name.LastIndexOf(':') > name.LastIndexOf('/') ? name : name + ":latest";
        return RepoTags(image).Any(t => t == withTag || t.EndsWith("/" + withTag, StringComparison.Ordinal));
    }

    private static IEnumerable<string> RepoTags(JsonElement image) =>
        image.TryGetProperty("RepoTags", out var tags) && tags.ValueKind == JsonValueKind.Array
            ? tags.EnumerateArray().Select(t => t.GetString()).OfType<string>()
            : [];

    private static string Listing(List<JsonElement> images) =>
        string.Join(", ", images.Select((image, i) => RepoTags(image).ToList() is { Count: > 0 } tags ? $"{string.Join(" ", tags)} (@{i})" : $"@{i} (untagged)"));

    /// <summary>A layer's name for people: the first 12 characters of the hex digest in it ("blobs/sha256/HEX", "HEX/layer.tar", "HEX.tar").</summary>
    private static string ShortName(string name)
    {
        var hex = LongHex().Match(name);
        if (hex.Success) return hex.Value[..12];
        return name.Length <= 16 ? name : "…" + name[^15..];
    }

    [System.Text.RegularExpressions.GeneratedRegex("[0-9a-f]{64}", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex LongHex();

    private static async Task<(Digest Digest, long Size, Digest? DiffId)> CompressAsync(Stream input, long length, string path, string name, ITransferObserver observer,
        CancellationToken cancellationToken)
    {
        var progress = observer.Start("compress:" + name, $"gzip {ShortName(name)}", length);
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
            observer.Complete("compress:" + name, alreadyGzip ? $"already compressed ({ByteSize.Format(hashing.BytesWritten)})" : $"compressed {ByteSize.Format(length)} to {ByteSize.Format(hashing.BytesWritten)}");
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
