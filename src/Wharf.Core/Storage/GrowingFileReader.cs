using Microsoft.Win32.SafeHandles;

namespace Wharf.Core.Storage;

/// <summary>
/// Reads a local file that may still be growing, at any offset (a <c>pread</c>, so readers never share a position).
/// Its own handle: the file may be renamed or deleted meanwhile and the reader still reads what was written.
/// </summary>
public sealed class GrowingFileReader : IDisposable
{
    private readonly SafeFileHandle _handle;

    private GrowingFileReader(SafeFileHandle handle) => _handle = handle;

    /// <summary>A reader of the file at <paramref name="path"/>, or null when there is no such file (any more).</summary>
    public static GrowingFileReader? TryOpen(string path)
    {
        try
        {
            return new GrowingFileReader(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Reads into <paramref name="buffer"/> from <paramref name="offset"/>; 0 at the current end of the file.</summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) =>
        LocalFileIo.ReadAsync(_handle, buffer, offset, cancellationToken);

    public void Dispose() => _handle.Dispose();
}
