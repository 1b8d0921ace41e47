using System.Runtime.InteropServices;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Flushes a directory's entries (a new or renamed file's name) to disk. .NET cannot open a
/// directory as a file, so on Unix this calls open(2)/fsync(2) directly; on Windows, where
/// NTFS journals renames, it does nothing. Best effort: a failure to sync is not an error.
/// </summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY is 0 on Linux and macOS.

    /// <summary>True when the directory was fsynced.</summary>
    public static bool Flush(string directory)
    {
        if (OperatingSystem.IsWindows()) return false;
        try
        {
            var fd = Open(directory, ReadOnly);
            if (fd < 0) return false;
            try
            {
                return Fsync(fd) == 0;
            }
            finally
            {
                _ = Close(fd);
            }
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
