using System.Buffers;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Wharf.Core.Builds;

namespace Wharf.Builds.Sources;

/// <summary>
/// Keeps build sources under <c>&lt;builds&gt;/sources/&lt;id&gt;/</c> (<c>Dockerfile</c> or <c>context.tar[.gz]</c>),
/// written while the upload streams in, and checked entry by entry without unpacking. Secrets sit beside them in
/// <c>secrets</c>, encrypted with <see cref="ISecretProtector"/> and readable by the owner of the process only.
/// </summary>
public sealed class FileSystemBuildSourceStore(BuildPaths paths, BuildOptions options, ISecretProtector protector) : IBuildSourceStore
{
    public const string DockerfileName = "Dockerfile";
    public const string ContextName = "context.archive";
    public const string SecretsName = "secrets";

    public async Task<SourceSaveResult> SaveDockerfileAsync(Guid buildId, Stream content, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        OwnerOnly.CreateDirectory(folder);
        var copied = await CopyLimitedAsync(content, Path.Combine(folder, DockerfileName), options.MaxDockerfileBytes, cancellationToken);
        if (copied < 0) return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The Dockerfile is larger than the limit of {options.MaxDockerfileBytes} bytes.");
        if (copied == 0) return SourceSaveResult.Fail(SourceProblem.Empty, "The Dockerfile is empty.");
        return SourceSaveResult.Ok(copied);
    }

    public async Task<SourceSaveResult> SaveContextAsync(Guid buildId, Stream content, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        OwnerOnly.CreateDirectory(folder);
        var file = Path.Combine(folder, ContextName);
        var copied = await CopyLimitedAsync(content, file, options.MaxContextBytes, cancellationToken);
        if (copied < 0) return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The context archive is larger than the limit of {options.MaxContextBytes} bytes.");
        if (copied == 0) return SourceSaveResult.Fail(SourceProblem.Empty, "The context archive is empty.");
        var check = await ScanAsync(file, null, cancellationToken);
        return check.Succeeded ? SourceSaveResult.Ok(copied) : check;
    }

    public async Task<SourceSaveResult> CheckDockerfileAsync(Guid buildId, string dockerfilePath, CancellationToken cancellationToken)
    {
        if (ContextPaths.Normalize(dockerfilePath) is not { Length: > 0 } normalized)
        {
            return SourceSaveResult.Fail(SourceProblem.Invalid, $"dockerfile_path '{dockerfilePath}' must be a relative path inside the context.");
        }
        return await ScanAsync(Path.Combine(paths.Source(buildId), ContextName), normalized, cancellationToken);
    }

    public async Task<string?> ReadDockerfileAsync(Guid buildId, BuildSourceKind kind, string dockerfilePath, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        if (kind == BuildSourceKind.Dockerfile)
        {
            var file = Path.Combine(folder, DockerfileName);
            return File.Exists(file) ? await File.ReadAllTextAsync(file, cancellationToken) : null;
        }
        if (ContextPaths.Normalize(dockerfilePath) is not { Length: > 0 } wanted) return null;
        var archiveFile = Path.Combine(folder, ContextName);
        if (!File.Exists(archiveFile)) return null;
        await using var archive = OpenArchive(archiveFile);
        await using var reader = new TarReader(archive, leaveOpen: false);
        string? found = null;
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile)) continue;
            if (ContextPaths.Normalize(entry.Name) != wanted || entry.DataStream is not { } data || entry.Length > options.MaxDockerfileBytes) continue;
            using var text = new StreamReader(data, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, leaveOpen: true);
            found = await text.ReadToEndAsync(cancellationToken); // the last entry of that name wins, as on unpacking
        }
        return found;
    }

    public async Task SaveSecretsAsync(Guid buildId, IReadOnlyDictionary<string, byte[]> secrets, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        OwnerOnly.CreateDirectory(folder);
        var json = JsonSerializer.Serialize(secrets.ToDictionary(s => s.Key, s => Convert.ToBase64String(s.Value)), SourceJson.Default.DictionaryStringString);
        await using var stream = new FileStream(Path.Combine(folder, SecretsName), OwnerOnly.NewFile(FileMode.Create));
        await stream.WriteAsync(Encoding.UTF8.GetBytes(protector.Protect(json)), cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, byte[]>?> ReadSecretsAsync(Guid buildId, CancellationToken cancellationToken)
    {
        var file = Path.Combine(paths.Source(buildId), SecretsName);
        if (!File.Exists(file)) return null;
        var json = protector.Unprotect(await File.ReadAllTextAsync(file, cancellationToken));
        var encoded = JsonSerializer.Deserialize(json, SourceJson.Default.DictionaryStringString) ?? [];
        return encoded.ToDictionary(e => e.Key, e => Convert.FromBase64String(e.Value), StringComparer.Ordinal);
    }

    public Task DeleteAsync(Guid buildId, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover folder holds no secret and is overwritten by nothing.
        }
        return Task.CompletedTask;
    }

    /// <summary>Opens a stored archive for reading, unwrapping gzip when its magic bytes say so.</summary>
    internal static Stream OpenArchive(string file)
    {
        var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        Span<byte> magic = stackalloc byte[2];
        var read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(stream, CompressionMode.Decompress) : stream;
    }

    /// <summary>
    /// Walks every entry: paths must normalize, links must stay inside, totals stay under the limits; when
    /// <paramref name="dockerfile"/> is given it must be a regular file within the Dockerfile limit.
    /// </summary>
    private async Task<SourceSaveResult> ScanAsync(string file, string? dockerfile, CancellationToken cancellationToken)
    {
        if (!File.Exists(file)) return SourceSaveResult.Fail(SourceProblem.Invalid, "The build has no context archive.");
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        var hardLinks = new List<(string Path, string Target)>();
        long expanded = 0;
        var entries = 0;
        var dockerfileFound = false;
        try
        {
            await using var archive = OpenArchive(file);
            await using var reader = new TarReader(archive, leaveOpen: false);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (++entries > options.MaxContextEntries)
                    return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The context has more than {options.MaxContextEntries} entries.");
                expanded += Math.Max(0, entry.Length);
                if (expanded > options.MaxContextExpandedBytes)
                    return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The context unpacks to more than {options.MaxContextExpandedBytes} bytes.");
                if (entry.EntryType is TarEntryType.GlobalExtendedAttributes) continue;
                var path = ContextPaths.Normalize(entry.Name);
                if (path is null)
                    return SourceSaveResult.Fail(SourceProblem.Invalid, $"The context entry '{Printable(entry.Name)}' has an absolute or '..' path.");
                switch (entry.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        if (dockerfile is not null && path == dockerfile)
                        {
                            if (entry.Length > options.MaxDockerfileBytes)
                                return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The Dockerfile '{dockerfile}' is larger than the limit of {options.MaxDockerfileBytes} bytes.");
                            dockerfileFound = true;
                        }
                        break;
                    case TarEntryType.Directory:
                        break;
                    case TarEntryType.SymbolicLink:
                        links[path] = entry.LinkName;
                        break;
                    case TarEntryType.HardLink:
                        hardLinks.Add((path, entry.LinkName));
                        break;
                    default:
                        return SourceSaveResult.Fail(SourceProblem.Invalid, $"The context entry '{Printable(entry.Name)}' is a {entry.EntryType}; only files, folders and links are allowed.");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            return SourceSaveResult.Fail(SourceProblem.Invalid, $"The context is not a valid tar or tar.gz archive: {e.Message}");
        }
        if (entries == 0) return SourceSaveResult.Fail(SourceProblem.Empty, "The context is not a tar or tar.gz archive with at least one entry.");
        foreach (var (path, target) in links)
        {
            if (!ContextPaths.StaysInside(path, target, links))
                return SourceSaveResult.Fail(SourceProblem.Invalid, $"The symbolic link '{Printable(path)}' points out of the context ('{Printable(target)}').");
        }
        foreach (var (path, target) in hardLinks)
        {
            if (ContextPaths.Normalize(target) is null)
                return SourceSaveResult.Fail(SourceProblem.Invalid, $"The hard link '{Printable(path)}' points out of the context ('{Printable(target)}').");
        }
        if (dockerfile is not null && !dockerfileFound)
            return SourceSaveResult.Fail(SourceProblem.Invalid, $"dockerfile_path: the context has no file '{dockerfile}'.");
        return SourceSaveResult.Ok(expanded);
    }

    /// <summary>Copies at most <paramref name="limit"/> bytes; returns the count, or -1 (file removed) when the source is longer.</summary>
    internal static async Task<long> CopyLimitedAsync(Stream source, string destination, long limit, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        long total = 0;
        try
        {
            await using (var target = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > limit) break;
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            if (total > limit)
            {
                File.Delete(destination);
                return -1;
            }
            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Printable(string text) => text.Length > 200 ? text[..200] + "…" : text.Replace('\0', '?');
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class SourceJson : System.Text.Json.Serialization.JsonSerializerContext;
