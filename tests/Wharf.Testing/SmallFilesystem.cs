namespace Wharf.Testing;

/// <summary>
/// A real, small file system: a tmpfs of a few MiB mounted on a temp folder (needs root, as the test machines and CI run),
/// for tests of what happens when the disk is full. Unmounted and removed on dispose.
/// </summary>
public sealed class SmallFilesystem : IAsyncDisposable
{
    private SmallFilesystem(string path, long size)
    {
        Path = path;
        Size = size;
    }

    public string Path { get; }

    public long Size { get; }

    /// <summary>Bytes free right now.</summary>
    public long Free => new DriveInfo(Path).AvailableFreeSpace;

    public static async Task<SmallFilesystem> MountAsync(int mebibytes)
    {
        var path = Directory.CreateTempSubdirectory("wharf-small-fs-").FullName;
        var mounted = await ExternalTool.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={mebibytes}m,mode=0755", "tmpfs", path]);
        if (!mounted.Succeeded)
        {
            Directory.Delete(path);
            Assert.Fail($"Could not mount a {mebibytes} MiB tmpfs (the full-disk tests need root).{Environment.NewLine}{mounted.Describe()}");
        }
        return new SmallFilesystem(path, mebibytes * 1024L * 1024);
    }

    public async ValueTask DisposeAsync()
    {
        var unmounted = await ExternalTool.RunAsync("umount", [Path]);
        if (!unmounted.Succeeded) await ExternalTool.RunAsync("umount", ["-l", Path]);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
