using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Testing;

/// <summary>One image layer: its uncompressed tar (digest = diff id) and its gzip blob (digest = layer digest).</summary>
public sealed class ImageLayer
{
    public ImageLayer(byte[] tar)
    {
        Tar = tar;
        DiffId = BlobDigest.Of(tar);
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }

        Gzip = compressed.ToArray();
        Digest = BlobDigest.Of(Gzip);
    }

    public byte[] Tar { get; }

    public byte[] Gzip { get; }

    /// <summary>Digest of the uncompressed tar (config rootfs.diff_ids, docker-archive layer files).</summary>
    public string DiffId { get; }

    /// <summary>Digest of the gzip blob (manifest layers).</summary>
    public string Digest { get; }

    public long Size => Gzip.LongLength;
}

/// <summary>Options for <see cref="TestImages.RandomImage"/>.</summary>
public sealed record RandomImageOptions
{
    /// <summary>Number of layers. Default: 2.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Bytes of random file content per layer (random data does not compress). Default: 256 KiB.</summary>
    public int LayerSize { get; init; } = 256 * 1024;

    /// <summary>Files per layer, sharing <see cref="LayerSize"/>. Default: 4.</summary>
    public int FilesPerLayer { get; init; } = 4;

    /// <summary>Seed for reproducible content: equal options give byte-identical blobs. Default: random.</summary>
    public int? Seed { get; init; }

    /// <summary>Config architecture (Go names: amd64, arm64, …). Default: this machine's.</summary>
    public string? Architecture { get; init; }

    /// <summary>Config architecture variant (e.g. "v8" for arm64). Default: none.</summary>
    public string? Variant { get; init; }

    /// <summary>Config os. Default: linux.</summary>
    public string Os { get; init; } = "linux";
}

/// <summary>
/// An image held in memory (layers and config), written out as an OCI image layout or a docker-archive
/// (<c>docker save</c> format). Built with <see cref="TestImages"/>.
/// </summary>
public sealed class TestImage
{
    public const string OciManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string OciConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerGzipMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    internal TestImage(IReadOnlyList<ImageLayer> layers, string architecture, string? variant, string os, IReadOnlyList<string> cmd, IReadOnlyList<string> env)
    {
        Layers = layers;
        Architecture = architecture;
        Variant = variant;
        Os = os;
        Config = BuildConfig(layers, architecture, variant, os, cmd, env);
        ConfigDigest = BlobDigest.Of(Config);
        Manifest = BuildManifest(Config, ConfigDigest, layers);
        ManifestDigest = BlobDigest.Of(Manifest);
    }

    public IReadOnlyList<ImageLayer> Layers { get; }

    public string Architecture { get; }

    public string? Variant { get; }

    public string Os { get; }

    /// <summary>The image config JSON bytes. Its digest is the image id docker and buildah report.</summary>
    public byte[] Config { get; }

    public string ConfigDigest { get; }

    /// <summary>The OCI image manifest JSON bytes written to an OCI layout.</summary>
    public byte[] Manifest { get; }

    public string ManifestDigest { get; }

    /// <summary>
    /// Writes the image into an OCI image layout folder (created if needed) under <paramref name="tag"/>.
    /// Several images can share one layout: the index gains one entry per call.
    /// </summary>
    public async Task<OciImage> WriteOciLayoutAsync(string layoutPath, string tag, CancellationToken ct)
    {
        var blobs = Directory.CreateDirectory(Path.Combine(layoutPath, "blobs", "sha256")).FullName;
        foreach (var layer in Layers)
        {
            await WriteBlobAsync(blobs, layer.Digest, layer.Gzip, ct);
        }

        await WriteBlobAsync(blobs, ConfigDigest, Config, ct);
        await WriteBlobAsync(blobs, ManifestDigest, Manifest, ct);
        await File.WriteAllTextAsync(Path.Combine(layoutPath, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""", ct);

        var indexPath = Path.Combine(layoutPath, "index.json");
        var index = File.Exists(indexPath)
            ? JsonNode.Parse(await File.ReadAllTextAsync(indexPath, ct))!.AsObject()
            : new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["manifests"] = new JsonArray() };
        var manifests = index["manifests"]!.AsArray();
        foreach (var existing in manifests.Where(m => (string?)m?["annotations"]?["org.opencontainers.image.ref.name"] == tag).ToList())
        {
            manifests.Remove(existing);
        }

        var platform = new JsonObject { ["architecture"] = Architecture, ["os"] = Os };
        if (Variant is not null)
        {
            platform["variant"] = Variant;
        }

        manifests.Add(new JsonObject
        {
            ["mediaType"] = OciManifestMediaType,
            ["digest"] = ManifestDigest,
            ["size"] = Manifest.Length,
            ["platform"] = platform,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
        });
        await File.WriteAllTextAsync(indexPath, index.ToJsonString(), ct);

        return new OciImage(Path.GetFullPath(layoutPath), tag, ManifestDigest, Manifest.Length, ConfigDigest,
            [.. Layers.Select(l => new LayerDigests(l.Digest, l.Size, l.DiffId))]);
    }

    /// <summary>
    /// Writes the image as a docker-archive (what <c>docker save</c> makes and <c>docker load</c> and
    /// skopeo's <c>docker-archive:</c> read): manifest.json, the config and uncompressed layer tars.
    /// </summary>
    public async Task<DockerArchive> WriteDockerArchiveAsync(string archivePath, string repoTag, CancellationToken ct)
    {
        var configName = BlobDigest.Hex(ConfigDigest) + ".json";
        var layerNames = Layers.Select(l => BlobDigest.Hex(l.DiffId) + "/layer.tar").ToList();
        var manifest = new JsonArray(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTag),
            ["Layers"] = new JsonArray([.. layerNames.Select(n => (JsonNode)n)]),
        });

        await using (var file = File.Create(archivePath))
        await using (var tar = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: false))
        {
            for (var i = 0; i < Layers.Count; i++)
            {
                await TarBuilder.WriteDirectoryAsync(tar, BlobDigest.Hex(Layers[i].DiffId) + "/", ct);
                await TarBuilder.WriteFileAsync(tar, layerNames[i], Layers[i].Tar, ct);
            }

            await TarBuilder.WriteFileAsync(tar, configName, Config, ct);
            await TarBuilder.WriteFileAsync(tar, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()), ct);
        }

        return new DockerArchive(Path.GetFullPath(archivePath), repoTag, ConfigDigest, [.. Layers.Select(l => l.DiffId)]);
    }

    /// <summary>
    /// Writes several images into one docker-archive, as <c>docker save IMAGE1 IMAGE2 …</c> does: one manifest.json entry
    /// per image (with its RepoTags; null for an untagged one), layers shared by images stored once.
    /// </summary>
    public static async Task WriteDockerArchiveAsync(string archivePath, IReadOnlyList<(TestImage Image, string? RepoTag)> images, CancellationToken ct)
    {
        var manifest = new JsonArray();
        var written = new HashSet<string>(StringComparer.Ordinal);
        await using var file = File.Create(archivePath);
        await using var tar = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: false);
        foreach (var (image, repoTag) in images)
        {
            var configName = BlobDigest.Hex(image.ConfigDigest) + ".json";
            var layerNames = image.Layers.Select(l => BlobDigest.Hex(l.DiffId) + "/layer.tar").ToList();
            for (var i = 0; i < image.Layers.Count; i++)
            {
                if (!written.Add(layerNames[i])) continue;
                await TarBuilder.WriteDirectoryAsync(tar, BlobDigest.Hex(image.Layers[i].DiffId) + "/", ct);
                await TarBuilder.WriteFileAsync(tar, layerNames[i], image.Layers[i].Tar, ct);
            }
            if (written.Add(configName)) await TarBuilder.WriteFileAsync(tar, configName, image.Config, ct);
            manifest.Add(new JsonObject
            {
                ["Config"] = configName,
                ["RepoTags"] = repoTag is null ? null : new JsonArray(repoTag),
                ["Layers"] = new JsonArray([.. layerNames.Select(n => (JsonNode)n)]),
            });
        }
        await TarBuilder.WriteFileAsync(tar, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()), ct);
    }

    private static async Task WriteBlobAsync(string blobsDirectory, string digest, byte[] content, CancellationToken ct)
    {
        var path = Path.Combine(blobsDirectory, BlobDigest.Hex(digest));
        if (!File.Exists(path))
        {
            await File.WriteAllBytesAsync(path, content, ct);
        }
    }

    private static byte[] BuildConfig(IReadOnlyList<ImageLayer> layers, string architecture, string? variant, string os, IReadOnlyList<string> cmd, IReadOnlyList<string> env)
    {
        var config = new JsonObject();
        if (env.Count > 0)
        {
            config["Env"] = new JsonArray([.. env.Select(e => (JsonNode)e)]);
        }

        if (cmd.Count > 0)
        {
            config["Cmd"] = new JsonArray([.. cmd.Select(c => (JsonNode)c)]);
        }

        var root = new JsonObject
        {
            ["created"] = TarBuilder.Epoch.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["architecture"] = architecture,
        };
        if (variant is not null)
        {
            root["variant"] = variant;
        }

        root["os"] = os;
        root["config"] = config;
        root["rootfs"] = new JsonObject
        {
            ["type"] = "layers",
            ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode)l.DiffId)]),
        };
        root["history"] = new JsonArray([.. layers.Select((_, i) => (JsonNode)new JsonObject
        {
            ["created"] = root["created"]!.GetValue<string>(),
            ["created_by"] = $"wharf test image layer {i}",
        })]);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static byte[] BuildManifest(byte[] config, string configDigest, IReadOnlyList<ImageLayer> layers)
    {
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciManifestMediaType,
            ["config"] = new JsonObject { ["mediaType"] = OciConfigMediaType, ["digest"] = configDigest, ["size"] = config.Length },
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = OciLayerGzipMediaType,
                ["digest"] = l.Digest,
                ["size"] = l.Size,
            })]),
        };
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }
}

/// <summary>An image written to an OCI layout. <see cref="Reference"/> is the skopeo/buildah transport reference.</summary>
public sealed record OciImage(string LayoutPath, string Tag, string ManifestDigest, long ManifestSize, string ConfigDigest, IReadOnlyList<LayerDigests> Layers)
{
    /// <summary>"oci:LAYOUT:TAG".</summary>
    public string Reference => $"oci:{LayoutPath}:{Tag}";
}

public sealed record LayerDigests(string Digest, long Size, string DiffId);

/// <summary>An image written as a docker-archive. Its image id (what <c>docker load</c> reports) is <see cref="ConfigDigest"/>.</summary>
public sealed record DockerArchive(string Path, string RepoTag, string ConfigDigest, IReadOnlyList<string> DiffIds)
{
    /// <summary>"docker-archive:PATH".</summary>
    public string Reference => $"docker-archive:{Path}";
}

/// <summary>Builds test images locally, with no network: random-content images and a busybox base.</summary>
public static class TestImages
{
    /// <summary>Commands linked to /bin/busybox in <see cref="Busybox"/>.</summary>
    public static readonly IReadOnlyList<string> BusyboxApplets =
    [
        "sh", "ash", "ls", "cat", "echo", "mkdir", "rm", "rmdir", "cp", "mv", "touch", "true", "false", "env",
        "sleep", "id", "test", "[", "grep", "sed", "awk", "wc", "head", "tail", "find", "chmod", "chown", "ln",
        "pwd", "uname", "date", "hostname", "ps", "which", "tar", "gzip", "gunzip", "printf", "sort", "uniq",
        "tr", "cut", "du", "df", "stat", "sha256sum", "md5sum", "whoami", "basename", "dirname", "readlink",
        "seq", "xargs", "vi", "wget",
    ];

    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>This machine's architecture in Go/OCI naming (amd64, arm64, …).</summary>
    public static string HostArchitecture => GoArchitecture(RuntimeInformation.OSArchitecture);

    public static string GoArchitecture(Architecture architecture) => architecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        System.Runtime.InteropServices.Architecture.LoongArch64 => "loong64",
        _ => architecture.ToString().ToLowerInvariant(),
    };

    /// <summary>An image of <paramref name="options"/>.Layers layers of random files (no runnable content).</summary>
    public static TestImage RandomImage(RandomImageOptions? options = null)
    {
        options ??= new RandomImageOptions();
        var seed = options.Seed ?? Random.Shared.Next();
        var layers = new List<ImageLayer>(options.Layers);
        for (var i = 0; i < options.Layers; i++)
        {
            var random = new Random(unchecked(seed * 31 + i));
            var files = Math.Max(1, options.FilesPerLayer);
            var builder = new TarBuilder();
            builder.AddDirectory("data/");
            builder.AddDirectory($"data/layer{i}/");
            for (var f = 0; f < files; f++)
            {
                var size = options.LayerSize / files + (f < options.LayerSize % files ? 1 : 0);
                var content = new byte[size];
                random.NextBytes(content);
                builder.AddFile($"data/layer{i}/file{f}.bin", content);
            }

            layers.Add(new ImageLayer(builder.ToArray()));
        }

        return new TestImage(layers, options.Architecture ?? HostArchitecture, options.Variant, options.Os, ["sh"], [$"PATH={DefaultPath}"]);
    }

    /// <summary>
    /// A runnable busybox base image: one layer with /bin/busybox (Debian's busybox-static) and a symlink per
    /// applet in <see cref="BusyboxApplets"/>, /etc/passwd and /etc/group, /tmp and /root; Cmd ["sh"].
    /// Its architecture is this machine's, since the binary is.
    /// </summary>
    public static TestImage Busybox()
    {
        var busyboxPath = ExternalTool.RequireTool("busybox");
        var builder = new TarBuilder();
        builder.AddDirectory("bin/");
        builder.AddFile("bin/busybox", File.ReadAllBytes(busyboxPath), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        foreach (var applet in BusyboxApplets)
        {
            builder.AddSymlink($"bin/{applet}", "busybox");
        }

        builder.AddDirectory("etc/");
        builder.AddFile("etc/passwd", Encoding.UTF8.GetBytes("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
        builder.AddFile("etc/group", Encoding.UTF8.GetBytes("root:x:0:\nnogroup:x:65534:\n"));
        builder.AddDirectory("root/", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        builder.AddDirectory("tmp/", (UnixFileMode)0x3FF | UnixFileMode.StickyBit);
        return new TestImage([new ImageLayer(builder.ToArray())], HostArchitecture, null, "linux", ["sh"], [$"PATH={DefaultPath}"]);
    }

    /// <summary>Reads the image an OCI layout holds under <paramref name="tag"/> (or its only image when null).</summary>
    public static async Task<OciImage> ReadOciLayoutAsync(string layoutPath, string? tag, CancellationToken ct)
    {
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layoutPath, "index.json"), ct))!;
        var entries = index["manifests"]!.AsArray();
        var entry = tag is null
            ? entries.Count == 1 ? entries[0]! : throw new InvalidOperationException($"{layoutPath} holds {entries.Count} manifests; name a tag.")
            : entries.FirstOrDefault(m => (string?)m?["annotations"]?["org.opencontainers.image.ref.name"] == tag)
              ?? throw new InvalidOperationException($"{layoutPath} has no manifest tagged '{tag}'.");
        var manifestDigest = (string)entry["digest"]!;
        var manifestPath = Path.Combine(layoutPath, "blobs", "sha256", BlobDigest.Hex(manifestDigest));
        var manifestBytes = await File.ReadAllBytesAsync(manifestPath, ct);
        if (BlobDigest.Of(manifestBytes) != manifestDigest)
        {
            throw new InvalidOperationException($"Manifest blob {manifestPath} does not match its digest.");
        }

        var manifest = JsonNode.Parse(manifestBytes)!;
        var configDigest = (string)manifest["config"]!["digest"]!;
        var config = JsonNode.Parse(await File.ReadAllBytesAsync(Path.Combine(layoutPath, "blobs", "sha256", BlobDigest.Hex(configDigest)), ct))!;
        var diffIds = config["rootfs"]?["diff_ids"]?.AsArray().Select(d => (string)d!).ToList() ?? [];
        var layers = manifest["layers"]!.AsArray()
            .Select((l, i) => new LayerDigests((string)l!["digest"]!, (long)l["size"]!, i < diffIds.Count ? diffIds[i] : ""))
            .ToList();
        var ref_ = (string?)entry["annotations"]?["org.opencontainers.image.ref.name"] ?? "";
        return new OciImage(Path.GetFullPath(layoutPath), ref_, manifestDigest, manifestBytes.LongLength, configDigest, layers);
    }

    /// <summary>Reads a docker-archive's manifest.json and hashes its config and layer files.</summary>
    public static async Task<DockerArchive> ReadDockerArchiveAsync(string archivePath, CancellationToken ct)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var stream = File.OpenRead(archivePath))
        await using (var reader = new TarReader(stream))
        {
            while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                if (entry.DataStream is not null && entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                {
                    using var buffer = new MemoryStream();
                    await entry.DataStream.CopyToAsync(buffer, ct);
                    files[entry.Name.TrimStart('.', '/')] = buffer.ToArray();
                }
            }
        }

        var manifest = JsonNode.Parse(files["manifest.json"])!.AsArray()[0]!;
        var config = files[(string)manifest["Config"]!];
        var diffIds = new List<string>();
        foreach (var layerName in manifest["Layers"]!.AsArray().Select(l => (string)l!))
        {
            var content = files[layerName];
            // Layer files are normally plain tars; hash the uncompressed stream if one is gzipped.
            if (content.Length > 2 && content[0] == 0x1f && content[1] == 0x8b)
            {
                await using var gzip = new GZipStream(new MemoryStream(content), CompressionMode.Decompress);
                diffIds.Add(await BlobDigest.OfStreamAsync(gzip, ct));
            }
            else
            {
                diffIds.Add(BlobDigest.Of(content));
            }
        }

        var repoTag = manifest["RepoTags"]?.AsArray().Select(t => (string?)t).FirstOrDefault() ?? "";
        return new DockerArchive(Path.GetFullPath(archivePath), repoTag, BlobDigest.Of(config), diffIds);
    }
}

/// <summary>Builds a reproducible layer tar in memory: fixed timestamps, root ownership.</summary>
internal sealed class TarBuilder
{
    public static readonly DateTimeOffset Epoch = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private const UnixFileMode DefaultFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DefaultDirectoryMode = DefaultFileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly MemoryStream _buffer = new();
    private readonly TarWriter _writer;

    public TarBuilder() => _writer = new TarWriter(_buffer, TarEntryFormat.Ustar, leaveOpen: true);

    public void AddDirectory(string name, UnixFileMode mode = DefaultDirectoryMode)
        => _writer.WriteEntry(new UstarTarEntry(TarEntryType.Directory, name) { Mode = mode, ModificationTime = Epoch });

    public void AddFile(string name, byte[] content, UnixFileMode mode = DefaultFileMode)
        => _writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = mode,
            ModificationTime = Epoch,
            DataStream = new MemoryStream(content, writable: false),
        });

    public void AddSymlink(string name, string target)
        => _writer.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, name)
        {
            Mode = DefaultDirectoryMode,
            ModificationTime = Epoch,
            LinkName = target,
        });

    public byte[] ToArray()
    {
        _writer.Dispose();
        return _buffer.ToArray();
    }

    public static Task WriteDirectoryAsync(TarWriter writer, string name, CancellationToken ct)
        => writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name) { Mode = DefaultDirectoryMode, ModificationTime = Epoch }, ct);

    public static Task WriteFileAsync(TarWriter writer, string name, byte[] content, CancellationToken ct)
        => writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = DefaultFileMode,
            ModificationTime = Epoch,
            DataStream = new MemoryStream(content, writable: false),
        }, ct);
}
