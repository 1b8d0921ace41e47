namespace Wharf.Builds;

/// <summary>Folders and files only the server's own user may open (0700, 0600): build sources, secrets, work folders.</summary>
internal static class OwnerOnly
{
    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the folder 0700 (or <paramref name="othersMayPass"/>: 0711, others may pass through but not list it).</summary>
    public static void CreateDirectory(string path, bool othersMayPass = false)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, othersMayPass ? Folder | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : Folder);
    }

    /// <summary>Options that create a file 0600.</summary>
    public static FileStreamOptions NewFile(FileMode mode = FileMode.CreateNew)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = File;
        return options;
    }
}
