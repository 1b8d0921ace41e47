using System.Formats.Tar;
using System.IO.Compression;

namespace Wharf.Client.Images;

/// <summary>Opens whatever <c>--from</c> names: an OCI layout folder, an OCI archive, or a docker-archive (plain or gzipped).</summary>
public static class ImageArchives
{
    /// <summary>
    /// <paramref name="pick"/> chooses the image of a docker-archive that holds several (a RepoTag, or <c>@N</c>); without it
    /// the one tagged <paramref name="repoTag"/> (the push target) is taken, or the only one.
    /// </summary>
    public static async Task<IImageSource> OpenAsync(string path, string? tag, string? repoTag, ITransferObserver observer, CancellationToken cancellationToken, string? pick = null)
    {
        if (Directory.Exists(path)) return await OciLayoutSource.OpenAsync(Path.GetFullPath(path), tag, cancellationToken);
        if (!File.Exists(path)) throw new WharfClientException(ClientErrorKind.InvalidInput, $"{path} does not exist; --from takes a docker save archive, an OCI layout folder or an OCI archive.");

        TempFolder? unzipped = null;
        try
        {
            var tarPath = path;
            if (await IsGzipAsync(path, cancellationToken))
            {
                unzipped = TempFolder.Create("wharf-gunzip-");
                tarPath = unzipped.Combine("archive.tar");
                try
                {
                    await using var input = File.OpenRead(path);
                    await using var gzip = new GZipStream(input, CompressionMode.Decompress);
                    await using var output = File.Create(tarPath);
                    await gzip.CopyToAsync(output, cancellationToken);
                }
                catch (InvalidDataException e)
                {
                    throw TarPaths.Corrupt(path, e);
                }
            }
            var kind = await DetectAsync(tarPath, path, cancellationToken);
            IImageSource source = kind == ArchiveKind.DockerArchive
                ? await DockerArchiveSource.OpenAsync(tarPath, repoTag, observer, cancellationToken, shownPath: path, pick: pick)
                : await OpenOciArchiveAsync(tarPath, path, tag, cancellationToken);
            return unzipped is null ? source : new OwningSource(source, unzipped);
        }
        catch
        {
            unzipped?.Dispose();
            throw;
        }
    }

    private enum ArchiveKind { DockerArchive, OciArchive }

    private static async Task<bool> IsGzipAsync(string path, CancellationToken cancellationToken)
    {
        var head = new byte[2];
        await using var file = File.OpenRead(path);
        return await file.ReadAtLeastAsync(head, 2, throwOnEndOfStream: false, cancellationToken) == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    private static async Task<ArchiveKind> DetectAsync(string tarPath, string shownPath, CancellationToken cancellationToken)
    {
        bool manifest = false, layout = false;
        try
        {
            await using var file = File.OpenRead(tarPath);
            await using var reader = new TarReader(file);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                var name = TarPaths.Normalize(entry.Name);
                manifest |= name == "manifest.json";
                layout |= name is "oci-layout" or "index.json";
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw TarPaths.Corrupt(shownPath, e);
        }
        // docker save from Docker 25+ holds both; its manifest.json path gives compressed layers.
        if (manifest) return ArchiveKind.DockerArchive;
        if (layout) return ArchiveKind.OciArchive;
        throw new WharfClientException(ClientErrorKind.InvalidInput, $"{shownPath} is neither a docker save archive (no manifest.json) nor an OCI archive (no index.json).");
    }

    private static async Task<IImageSource> OpenOciArchiveAsync(string tarPath, string shownPath, string? tag, CancellationToken cancellationToken)
    {
        var temp = TempFolder.Create("wharf-oci-");
        try
        {
            await ExtractAsync(tarPath, shownPath, temp.Path, cancellationToken);
            return await OciLayoutSource.OpenAsync(temp.Path, tag, cancellationToken, temp, $"OCI archive {shownPath}");
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    /// <summary>Extracts regular files and folders only; names that would leave <paramref name="destination"/> are refused.</summary>
    public static async Task ExtractAsync(string tarPath, string shownPath, string destination, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = File.OpenRead(tarPath);
            await using var reader = new TarReader(file);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (!TarPaths.IsFile(entry) || entry.DataStream is null) continue;
                var name = TarPaths.Normalize(entry.Name)
                    ?? throw new WharfClientException(ClientErrorKind.InvalidInput, $"{shownPath} has an entry named '{entry.Name}' outside the archive; refusing it.");
                var target = Path.Combine(destination, name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous);
                await entry.DataStream.CopyToAsync(output, 1024 * 1024, cancellationToken);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw TarPaths.Corrupt(shownPath, e);
        }
    }

    private sealed class OwningSource(IImageSource inner, IAsyncDisposable owned) : IImageSource
    {
        public string Description => inner.Description;
        public IReadOnlyList<ImageManifest> Manifests => inner.Manifests;
        public Task<Stream> OpenBlobAsync(Wharf.Core.Digests.Digest digest, CancellationToken cancellationToken) => inner.OpenBlobAsync(digest, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await owned.DisposeAsync();
        }
    }
}
