using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Bench;

/// <summary>A generated file on disk together with its size and digest (kept in a ".digest" sidecar).</summary>
public sealed record BlobFile(string Path, long Size, string Digest)
{
    public static BlobFile Load(string path)
    {
        var digest = File.ReadAllText(path + ".digest").Trim();
        return new BlobFile(path, new FileInfo(path).Length, digest);
    }
}

public static class DataGen
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";

    private static readonly DateTimeOffset Epoch = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Writes <paramref name="size"/> pseudo-random bytes to <paramref name="path"/>, hashing them on the way.</summary>
    public static BlobFile Blob(string path, long size, ulong seed)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        string digest;
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var hashing = new HashingWriteStream(file))
        {
            var source = new RandomStream(seed, size);
            source.CopyTo(hashing, 1 << 20);
            digest = hashing.Digest();
        }

        File.Move(tmp, path, overwrite: true);
        File.WriteAllText(path + ".digest", digest + "\n");
        return new BlobFile(path, size, digest);
    }

    /// <summary>
    /// Writes an OCI image layout with <paramref name="layers"/> layers of about <paramref name="totalBytes"/>
    /// in all. Each layer is a real tar.gz (one file of random bytes, gzip at level 0, so incompressible and
    /// cheap) so tools that sniff compression take it as already compressed and copy it unchanged.
    /// </summary>
    public static JsonObject Image(string dir, int layers, long totalBytes, ulong seed, string tag)
    {
        var blobDir = Path.Combine(dir, "blobs", "sha256");
        Directory.CreateDirectory(blobDir);
        var layerDescriptors = new JsonArray();
        var diffIds = new JsonArray();
        long layerBytes = 0;
        var perLayer = totalBytes / layers;
        for (var i = 0; i < layers; i++)
        {
            var tmp = Path.Combine(dir, $"layer{i}.tmp");
            string digest, diffId;
            long size;
            using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var compressedHash = new HashingWriteStream(file))
            {
                using (var gzip = new GZipStream(compressedHash, CompressionLevel.NoCompression, leaveOpen: true))
                using (var tarHash = new HashingWriteStream(gzip))
                {
                    using (var tar = new TarWriter(tarHash, TarEntryFormat.Ustar, leaveOpen: true))
                    {
                        var entry = new UstarTarEntry(TarEntryType.RegularFile, $"bench/layer{i}.bin")
                        {
                            DataStream = new RandomStream(seed + (ulong)i, perLayer),
                            ModificationTime = Epoch,
                            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                        };
                        tar.WriteEntry(entry);
                    }

                    tarHash.Flush();
                    diffId = tarHash.Digest();
                }

                compressedHash.Flush();
                digest = compressedHash.Digest();
                size = compressedHash.BytesWritten;
            }

            File.Move(tmp, Path.Combine(blobDir, digest["sha256:".Length..]), overwrite: true);
            layerBytes += size;
            layerDescriptors.Add(new JsonObject { ["mediaType"] = OciLayerGzip, ["digest"] = digest, ["size"] = size });
            diffIds.Add(diffId);
        }

        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "2020-01-01T00:00:00Z",
            ["config"] = new JsonObject(),
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
        };
        var configDesc = WriteJsonBlob(blobDir, config, OciConfig);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciManifest,
            ["config"] = configDesc,
            ["layers"] = layerDescriptors,
        };
        var manifestDesc = WriteJsonBlob(blobDir, manifest, OciManifest);
        manifestDesc["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciIndex,
            ["manifests"] = new JsonArray(manifestDesc),
        };
        File.WriteAllText(Path.Combine(dir, "index.json"), index.ToJsonString(Json.Compact));
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        return new JsonObject
        {
            ["dir"] = dir,
            ["tag"] = tag,
            ["manifest_digest"] = manifestDesc["digest"]!.GetValue<string>(),
            ["layers"] = layers,
            ["layer_bytes"] = layerBytes,
        };
    }

    private static JsonObject WriteJsonBlob(string blobDir, JsonObject node, string mediaType)
    {
        var bytes = Encoding.UTF8.GetBytes(node.ToJsonString(Json.Compact));
        var digest = Digests.Sha256(bytes);
        File.WriteAllBytes(Path.Combine(blobDir, digest["sha256:".Length..]), bytes);
        return new JsonObject { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = bytes.Length };
    }
}

public static class Json
{
    /// <summary>Compact JSON that keeps "+" in media types readable instead of escaping it.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Compact = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

public static class Digests
{
    public static string Sha256(ReadOnlySpan<byte> bytes) =>
        "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
}
