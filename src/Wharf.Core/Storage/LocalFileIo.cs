using Microsoft.Win32.SafeHandles;

namespace Wharf.Core.Storage;

/// <summary>
/// Positioned reads and writes of a local file on the path of a blob that streams while it is stored (a pull-through
/// fetch writes every piece into the page cache, and each client reads it back from there at once). Where .NET has no
/// asynchronous file I/O (Linux, macOS: an "asynchronous" read or write is the same blocking <c>pread</c>/<c>pwrite</c>,
/// queued to another thread-pool thread) they run in place on the calling thread: a pool thread is blocked for the
/// same few microseconds either way, and the hand-off to another thread and back, once per piece and per client, is
/// saved. A time line of first pulls through the proxy showed those switches taking CPU from the clients being served.
/// On Windows, which has overlapped I/O, they stay asynchronous.
/// </summary>
public static class LocalFileIo
{
    public static ValueTask WriteAsync(SafeFileHandle file, ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows()) return RandomAccess.WriteAsync(file, data, offset, cancellationToken);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            RandomAccess.Write(file, data.Span, offset);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public static ValueTask<int> ReadAsync(SafeFileHandle file, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows()) return RandomAccess.ReadAsync(file, buffer, offset, cancellationToken);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(RandomAccess.Read(file, buffer.Span, offset));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }
}
