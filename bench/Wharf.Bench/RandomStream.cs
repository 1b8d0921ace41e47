using System.Runtime.InteropServices;

namespace Wharf.Bench;

/// <summary>
/// A read-only, seekable stream of pseudo-random (incompressible) bytes. Byte i depends only on
/// the seed and i (counter-based SplitMix64), so the stream can seek and needs no buffer.
/// </summary>
public sealed class RandomStream(ulong seed, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var remaining = length - _position;
        if (remaining <= 0)
        {
            return 0;
        }

        var n = (int)Math.Min(buffer.Length, remaining);
        Fill(seed, _position, buffer[..n]);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Fills <paramref name="destination"/> with the bytes at <paramref name="position"/> onwards.</summary>
    public static void Fill(ulong seed, long position, Span<byte> destination)
    {
        var i = 0;
        var p = position;
        while (i < destination.Length && (p & 7) != 0)
        {
            destination[i++] = ByteAt(seed, p++);
        }

        var words = MemoryMarshal.Cast<byte, ulong>(destination[i..]);
        var w = (ulong)(p >> 3);
        for (var k = 0; k < words.Length; k++)
        {
            words[k] = Mix(seed, w + (ulong)k);
        }

        i += words.Length * 8;
        p += words.Length * 8L;
        while (i < destination.Length)
        {
            destination[i++] = ByteAt(seed, p++);
        }
    }

    private static byte ByteAt(ulong seed, long p) => (byte)(Mix(seed, (ulong)(p >> 3)) >> (int)((p & 7) * 8));

    private static ulong Mix(ulong seed, ulong word)
    {
        var z = seed + ((word + 1) * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
