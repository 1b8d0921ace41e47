using Microsoft.Win32.SafeHandles;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// A forward-only read of <c>[offset, offset + length)</c> of an open file. Each read is one positional read
/// (<see cref="RandomAccess"/>, pread on Unix) straight into the caller's buffer: no buffer of its own, no shared
/// file position, so a copy into a response's pipe memory costs one copy out of the page cache and nothing more.
/// </summary>
internal sealed class FileRangeStream : Stream
{
    private readonly SafeFileHandle _file;
    private readonly long _end;
    private long _position;

    public FileRangeStream(SafeFileHandle file, long offset, long end)
    {
        _file = file;
        _position = offset;
        _end = end;
    }

    public override bool CanRead => !_file.IsClosed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Bytes left in the range.</summary>
    public long Remaining => _end - _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, Remaining);
        if (wanted <= 0) return 0;
        var read = RandomAccess.Read(_file, buffer[..wanted], _position);
        _position += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = (int)Math.Min(buffer.Length, Remaining);
        if (wanted <= 0) return 0;
        var read = await RandomAccess.ReadAsync(_file, buffer[..wanted], _position, cancellationToken);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }
}
