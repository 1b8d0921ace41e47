using System.Formats.Tar;
using Wharf.Core.Builds;

namespace Wharf.Builds.Sources;

/// <summary>
/// A running build's folder: the context unpacked under <c>context/</c> (never writing through a link) and a tar of it
/// for engines that take an archive. Disposing deletes it.
/// </summary>
public sealed class BuildWorkspace : IAsyncDisposable
{
    private BuildWorkspace(string folder, string contextDirectory, string contextArchive)
    {
        Folder = folder;
        ContextDirectory = contextDirectory;
        ContextArchive = contextArchive;
    }

    public string Folder { get; }

    public string ContextDirectory { get; }

    public string ContextArchive { get; }

    public static async Task<BuildWorkspace> PrepareAsync(BuildPaths paths, BuildRecord build, CancellationToken cancellationToken)
    {
        var folder = paths.Work(build.Id);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        var context = Path.Combine(folder, "context");
        Directory.CreateDirectory(context);
        var source = paths.Source(build.Id);
        string archive;
        if (build.SourceKind == BuildSourceKind.Dockerfile)
        {
            File.Copy(Path.Combine(source, FileSystemBuildSourceStore.DockerfileName), Path.Combine(context, "Dockerfile"));
            archive = Path.Combine(folder, "context.tar");
            await using var output = File.Create(archive);
            await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: false);
            await writer.WriteEntryAsync(Path.Combine(context, "Dockerfile"), "Dockerfile", cancellationToken);
        }
        else
        {
            archive = Path.Combine(source, FileSystemBuildSourceStore.ContextName);
            await ExtractAsync(archive, context, cancellationToken);
        }
        return new BuildWorkspace(folder, context, archive);
    }

    private static async Task ExtractAsync(string archiveFile, string root, CancellationToken cancellationToken)
    {
        await using var archive = FileSystemBuildSourceStore.OpenArchive(archiveFile);
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
        try
        {
            if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return ValueTask.CompletedTask;
    }
}
