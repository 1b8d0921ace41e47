using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Starts the kernel's writeback of a file range that has just been written, without waiting for it
/// (Linux <c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c>). While an upload is still arriving, its earlier
/// megabytes are already on their way to the disk, so the fsync at the end of the upload waits for the
/// last few megabytes instead of the whole blob. Durability still comes from that fsync; this only moves
/// the disk work earlier. Elsewhere (or if the call is missing) it does nothing.
/// </summary>
internal static partial class EarlyWriteback
{
    private const uint SyncFileRangeWrite = 2;
    private static bool _unavailable = !OperatingSystem.IsLinux();

    public static void Start(SafeFileHandle file, long offset, long length)
    {
        if (_unavailable || length <= 0) return;
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            _ = SyncFileRange((int)file.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);
}
