using System.Buffers;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Wharf.Core.Builds;
using Wharf.Core.Storage;

namespace Wharf.Builds.Sources;

/// <summary>
/// Keeps build sources in the installation's <see cref="ISharedFileStore"/> (<c>builds/&lt;id&gt;/Dockerfile</c> or
/// <c>context.archive</c>), so the worker that runs a build may be on any node: nothing of a build stays on the disk
/// of the node that took its upload. An upload streams into a temporary file of the node (owner-only, under
/// <c>&lt;builds&gt;/sources</c>), is checked entry by entry without unpacking, copied to the shared store and removed.
/// Secrets are stored beside the source, encrypted with <see cref="ISecretProtector"/> (whose key ring is shared too).
/// </summary>
public sealed class SharedBuildSourceStore(BuildPaths paths, BuildOptions options, ISecretProtector protector, ISharedFileStore shared) : IBuildSourceStore
{
    public const string DockerfileName = "Dockerfile";
    public const string ContextName = "context.archive";
    public const string SecretsName = "secrets";

    private static string Folder(Guid buildId) => $"builds/{buildId:N}/";

    private static string PathOf(Guid buildId, string name) => Folder(buildId) + name;

    public Task<SourceSaveResult> SaveDockerfileAsync(Guid buildId, Stream content, CancellationToken cancellationToken) =>
        SaveAsync(buildId, DockerfileName, content, options.MaxDockerfileBytes, async (file, copied) =>
        {
            if (copied < 0) return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The Dockerfile is larger than the limit of {options.MaxDockerfileBytes} bytes.");
            if (copied == 0) return SourceSaveResult.Fail(SourceProblem.Empty, "The Dockerfile is empty.");
            return await Task.FromResult(SourceSaveResult.Ok(copied));
        }, cancellationToken);

    public Task<SourceSaveResult> SaveContextAsync(Guid buildId, Stream content, CancellationToken cancellationToken) =>
        SaveAsync(buildId, ContextName, content, options.MaxContextBytes, async (file, copied) =>
        {
            if (copied < 0) return SourceSaveResult.Fail(SourceProblem.TooLarge, $"The context archive is larger than the limit of {options.MaxContextBytes} bytes.");
            if (copied == 0) return SourceSaveResult.Fail(SourceProblem.Empty, "The context archive is empty.");
            var check = await ScanAsync(() => Task.FromResult<Stream?>(File.OpenRead(file)), null, cancellationToken);
            return check.Succeeded ? SourceSaveResult.Ok(copied) : check;
        }, cancellationToken);

    /// <summary>
    /// Streams an upload into a temporary file of this node (the limit counted as it comes), lets <paramref name="check"/>
    /// judge it, and copies what passed to the shared store; the temporary file is removed whatever happens.
    /// </summary>
    private async Task<SourceSaveResult> SaveAsync(Guid buildId, string name, Stream content, long limit,
        Func<string, long, Task<SourceSaveResult>> check, CancellationToken cancellationToken)
    {
        var folder = paths.Source(buildId);
        OwnerOnly.CreateDirectory(folder);
        var file = Path.Combine(folder, name);
        try
        {
            var copied = await CopyLimitedAsync(content, file, limit, cancellationToken);
            var result = await check(file, copied);
            if (!result.Succeeded) return result;
            await using var upload = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await shared.WriteAsync(PathOf(buildId, name), upload, long.MaxValue, cancellationToken);
            return result;
        }
        finally
        {
            DeleteLocal(folder);
        }
    }

    public Task<SourceSaveResult> CheckDockerfileAsync(Guid buildId, string dockerfilePath, CancellationToken cancellationToken)
    {
        if (ContextPaths.Normalize(dockerfilePath) is not { Length: > 0 } normalized)
        {
            return Task.FromResult(SourceSaveResult.Fail(SourceProblem.Invalid, $"dockerfile_path '{dockerfilePath}' must be a relative path inside the context."));
        }
        return ScanAsync(() => shared.OpenReadAsync(PathOf(buildId, ContextName), cancellationToken), normalized, cancellationToken);
    }

    public async Task<string?> ReadDockerfileAsync(Guid buildId, BuildSourceKind kind, string dockerfilePath, CancellationToken cancellationToken)
    {
        if (kind == BuildSourceKind.Dockerfile)
        {
            return await shared.ReadAllBytesAsync(PathOf(buildId, DockerfileName), cancellationToken) is { } bytes ? DecodeText(bytes) : null;
        }
        if (ContextPaths.Normalize(dockerfilePath) is not { Length: > 0 } wanted) return null;
        await using var stored = await shared.OpenReadAsync(PathOf(buildId, ContextName), cancellationToken);
        if (stored is null) return null;
        await using var archive = await OpenArchiveAsync(stored, cancellationToken);
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

    public async Task<Stream?> OpenSourceAsync(Guid buildId, BuildSourceKind kind, CancellationToken cancellationToken) =>
        await shared.OpenReadAsync(PathOf(buildId, kind == BuildSourceKind.Dockerfile ? DockerfileName : ContextName), cancellationToken);

    private static string DecodeText(byte[] bytes)
    {
        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    public async Task SaveSecretsAsync(Guid buildId, IReadOnlyDictionary<string, byte[]> secrets, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.Serialize(secrets.ToDictionary(s => s.Key, s => Convert.ToBase64String(s.Value)), SourceJson.Default.DictionaryStringString);
        await shared.WriteAllBytesAsync(PathOf(buildId, SecretsName), Encoding.UTF8.GetBytes(protector.Protect(json)), cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, byte[]>?> ReadSecretsAsync(Guid buildId, CancellationToken cancellationToken)
    {
        if (await shared.ReadAllBytesAsync(PathOf(buildId, SecretsName), cancellationToken) is not { } stored) return null;
        var json = protector.Unprotect(Encoding.UTF8.GetString(stored));
        var encoded = JsonSerializer.Deserialize(json, SourceJson.Default.DictionaryStringString) ?? [];
        return encoded.ToDictionary(e => e.Key, e => Convert.FromBase64String(e.Value), StringComparer.Ordinal);
    }

    public async Task DeleteAsync(Guid buildId, CancellationToken cancellationToken)
    {
        DeleteLocal(paths.Source(buildId));
        await shared.DeleteAsync(Folder(buildId), cancellationToken);
    }

    private static void DeleteLocal(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temporary upload holds no secret.
        }
    }

    /// <summary>Reads a stored archive, unwrapping gzip when its magic bytes say so; the stream need not be seekable.</summary>
    internal static async Task<Stream> OpenArchiveAsync(Stream stream, CancellationToken cancellationToken)
    {
        var magic = new byte[2];
        var read = await stream.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false, cancellationToken);
        var whole = new ReplayedPrefixStream(magic.AsMemory(0, read), stream);
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(whole, CompressionMode.Decompress) : whole;
    }

    /// <summary>
    /// Walks every entry: paths must normalize, links must stay inside, totals stay under the limits; when
    /// <paramref name="dockerfile"/> is given it must be a regular file within the Dockerfile limit.
    /// </summary>
    private async Task<SourceSaveResult> ScanAsync(Func<Task<Stream?>> open, string? dockerfile, CancellationToken cancellationToken)
    {
        await using var stored = await open();
        if (stored is null) return SourceSaveResult.Fail(SourceProblem.Invalid, "The build has no context archive.");
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        var hardLinks = new List<(string Path, string Target)>();
        long expanded = 0;
        var entries = 0;
        var dockerfileFound = false;
        try
        {
            await using var archive = await OpenArchiveAsync(stored, cancellationToken);
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

/// <summary>A few bytes already read from a stream, then the rest of it: peeking at a stream that cannot seek.</summary>
internal sealed class ReplayedPrefixStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_prefix.IsEmpty) return await rest.ReadAsync(buffer, cancellationToken);
        var count = Math.Min(buffer.Length, _prefix.Length);
        _prefix[..count].CopyTo(buffer);
        _prefix = _prefix[count..];
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_prefix.IsEmpty) return rest.Read(buffer, offset, count);
        var n = Math.Min(count, _prefix.Length);
        _prefix[..n].CopyTo(buffer.AsMemory(offset, n));
        _prefix = _prefix[n..];
        return n;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) rest.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await rest.DisposeAsync();
        await base.DisposeAsync();
    }
}
