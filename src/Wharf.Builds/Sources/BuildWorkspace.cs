using System.Formats.Tar;
using Wharf.Core.Builds;

namespace Wharf.Builds.Sources;

/// <summary>
/// A running build's folder, <c>work/&lt;id&gt;</c> (0700): the context, read from the shared store, unpacked under <c>context/</c> (never writing
/// through a link), the build's secrets under <c>secrets/</c> (0600 files), and whatever the engine keeps there. It is
/// removed after every outcome: disposing deletes it, and so does a failed preparation (a context that passed the
/// upload checks but cannot be unpacked leaves nothing behind).
/// </summary>
public sealed class BuildWorkspace : IAsyncDisposable
{
    private BuildWorkspace(string folder, string contextDirectory)
    {
        Folder = folder;
        ContextDirectory = contextDirectory;
    }

    public string Folder { get; }

    public string ContextDirectory { get; }

    /// <summary>Unpacks the build's source; throws <see cref="InvalidDataException"/> (folder removed) when it cannot be unpacked.</summary>
    public static async Task<BuildWorkspace> PrepareAsync(BuildPaths paths, IBuildSourceStore sources, BuildRecord build, CancellationToken cancellationToken)
    {
        var folder = paths.Work(build.Id);
        DeleteFolder(folder);
        OwnerOnly.CreateDirectory(paths.WorkRoot);
        OwnerOnly.CreateDirectory(folder);
        var workspace = new BuildWorkspace(folder, Path.Combine(folder, "context"));
        try
        {
            Directory.CreateDirectory(workspace.ContextDirectory);
            await using var source = await sources.OpenSourceAsync(build.Id, build.SourceKind, cancellationToken)
                ?? throw new InvalidDataException("The build's source is no longer stored.");
            if (build.SourceKind == BuildSourceKind.Dockerfile)
            {
                await using var dockerfile = new FileStream(Path.Combine(workspace.ContextDirectory, "Dockerfile"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
                await source.CopyToAsync(dockerfile, cancellationToken);
            }
            else
            {
                await ExtractAsync(source, workspace.ContextDirectory, cancellationToken);
            }
            return workspace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            await workspace.DisposeAsync();
            throw new InvalidDataException($"The context could not be unpacked: {e.Message}", e);
        }
        catch
        {
            await workspace.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes the build's secrets as files only this process's user can read, one per id; returns them for the engine.</summary>
    public async Task<IReadOnlyList<BuildSecretFile>> WriteSecretsAsync(IReadOnlyDictionary<string, byte[]> secrets, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Folder, "secrets");
        OwnerOnly.CreateDirectory(folder);
        var files = new List<BuildSecretFile>();
        var n = 0;
        foreach (var (id, value) in secrets)
        {
            var path = Path.Combine(folder, (n++).ToString(System.Globalization.CultureInfo.InvariantCulture));
            await using (var stream = new FileStream(path, OwnerOnly.NewFile()))
            {
                await stream.WriteAsync(value, cancellationToken);
            }
            files.Add(new BuildSecretFile(id, path));
        }
        return files;
    }

    private static async Task ExtractAsync(Stream stored, string root, CancellationToken cancellationToken)
    {
        await using var archive = await SharedBuildSourceStore.OpenArchiveAsync(stored, cancellationToken);
        await using var reader = new TarReader(archive);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            var relative = ContextPaths.Normalize(entry.Name) ?? throw new InvalidDataException($"Unsafe path '{entry.Name}'.");
            if (relative.Length == 0) continue;
            var target = Path.Combine(root, relative);
            EnsureNoLinkOnTheWay(root, relative);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    if (File.Exists(target) || Directory.Exists(target)) File.Delete(target);
                    await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
                    {
                        if (entry.DataStream is { } data) await data.CopyToAsync(output, cancellationToken);
                    }
                    if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, entry.Mode & (UnixFileMode)0x1FF);
                    break;
                case TarEntryType.SymbolicLink:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    if (File.Exists(target)) File.Delete(target);
                    File.CreateSymbolicLink(target, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                    // Copy instead of linking: the link's target is inside the context (checked on upload).
                    var source = Path.Combine(root, ContextPaths.Normalize(entry.LinkName) ?? throw new InvalidDataException("Unsafe hard link."));
                    EnsureNoLinkOnTheWay(root, ContextPaths.Normalize(entry.LinkName)!);
                    if (File.Exists(source) && (File.GetAttributes(source) & FileAttributes.ReparsePoint) == 0)
                    {
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        File.Copy(source, target, overwrite: true);
                    }
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Refuses to write through a symbolic link created by an earlier entry (that could lead out of the context).</summary>
    private static void EnsureNoLinkOnTheWay(string root, string relative)
    {
        var parts = relative.Split('/');
        var current = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            current = Path.Combine(current, parts[i]);
            var info = new FileInfo(current);
            if (info.Exists || Directory.Exists(current))
            {
                if (info.LinkTarget is not null || new DirectoryInfo(current).LinkTarget is not null)
                    throw new InvalidDataException($"The context entry '{relative}' goes through a symbolic link.");
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        DeleteFolder(Folder);
        return ValueTask.CompletedTask;
    }

    /// <summary>Removes a work folder (best effort).</summary>
    internal static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
