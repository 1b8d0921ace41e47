using System.Buffers;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Client.Images;

/// <summary>
/// Writes an image from an OCI layout as a docker-archive that <c>docker load</c> accepts: <c>manifest.json</c>,
/// <c>HEX.json</c> (the config) and <c>DIFFID/layer.tar</c> (each layer decompressed through a temp file, never in memory).
/// </summary>
public static class DockerArchiveWriter
{
    public static async Task WriteAsync(string layoutPath, byte[] manifestContent, string? repoTag, string outputPath, CancellationToken cancellationToken)
    {
        var manifest = ManifestParser.Parse(manifestContent, null).Manifest
            ?? throw new WharfClientException(ClientErrorKind.Failure, "The image manifest cannot be read.");
        var config = manifest.Config ?? throw new WharfClientException(ClientErrorKind.Failure, "The manifest has no config.");
        var configBytes = await File.ReadAllBytesAsync(OciLayoutSource.BlobPath(layoutPath, config.Digest), cancellationToken);
        var diffIds = ReadDiffIds(configBytes);
        if (diffIds.Count != manifest.Layers.Count)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The config lists {diffIds.Count} layers but the manifest {manifest.Layers.Count}.");
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        Directory.CreateDirectory(directory);
        using var temp = TempFolder.Create(".wharf-archive-", directory);
        var tarPath = temp.Combine("image.tar");
        await using (var file = new FileStream(tarPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
        {
            var layerNames = new List<string>();
            for (var i = 0; i < manifest.Layers.Count; i++)
            {
                var layer = manifest.Layers[i];
                var name = $"{Digest.Parse(diffIds[i]).Hex}/layer.tar";
                layerNames.Add(name);
                if (layerNames.IndexOf(name) != i) continue; // the same layer twice
                var plain = temp.Combine($"layer-{i}.tar");
                await DecompressAsync(OciLayoutSource.BlobPath(layoutPath, layer.Digest), plain, cancellationToken);
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, name[..name.IndexOf('/')] + "/") { Mode = (UnixFileMode)0x1ED }, cancellationToken);
                await tar.WriteEntryAsync(plain, name, cancellationToken);
                File.Delete(plain);
            }
            var configName = $"{config.Digest.Hex}.json";
            await WriteBytesAsync(tar, configName, configBytes, cancellationToken);
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartArray();
                json.WriteStartObject();
                json.WriteString("Config", configName);
                json.WriteStartArray("RepoTags");
                if (repoTag is not null) json.WriteStringValue(repoTag);
                json.WriteEndArray();
                json.WriteStartArray("Layers");
                foreach (var name in layerNames) json.WriteStringValue(name);
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteEndArray();
            }
            await WriteBytesAsync(tar, "manifest.json", buffer.ToArray(), cancellationToken);
        }
        File.Move(tarPath, outputPath, overwrite: true);
    }

    private static List<string> ReadDiffIds(byte[] config)
    {
        using var doc = JsonDocument.Parse(config);
        return doc.RootElement.TryGetProperty("rootfs", out var rootfs) && rootfs.TryGetProperty("diff_ids", out var ids)
            ? [.. ids.EnumerateArray().Select(i => i.GetString() ?? "")]
            : [];
    }

    private static async Task WriteBytesAsync(TarWriter tar, string name, byte[] content, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(content, writable: false),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        await tar.WriteEntryAsync(entry, cancellationToken);
    }

    private static async Task DecompressAsync(string blobPath, string outputPath, CancellationToken cancellationToken)
    {
        await using var input = new FileStream(blobPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1024 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var head = new byte[4];
        var n = await input.ReadAtLeastAsync(head, 4, throwOnEndOfStream: false, cancellationToken);
        input.Position = 0;
        Stream source = input;
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) source = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
        else if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
        {
            throw new WharfClientException(ClientErrorKind.Failure, "The image has zstd layers, which docker-archive output does not support yet; pull to an OCI layout folder instead.");
        }
        await using (source)
        await using (var output = new FileStream(outputPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous))
        {
            await source.CopyToAsync(output, 1024 * 1024, cancellationToken);
        }
    }

}
