using System.Security.Cryptography;
using Wharf.Core.Digests;

namespace Wharf.Storage.Tests;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// A forward-only stream of <c>length</c> deterministic pseudo-random bytes, generated on the fly so a
/// test can push a large blob without holding it in memory.
/// </summary>
public sealed class GeneratingStream(long length, ulong seed = 0x9E3779B97F4A7C15) : ReadOnlyTestStream
{
    private ulong _state = seed | 1;
    private long _position;

    public override long Position { get => _position; set => throw new NotSupportedException(); }


    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        for (var i = 0; i < n; i++)
        {
            // xorshift64
            _state ^= _state << 13;
            _state ^= _state >> 7;
            _state ^= _state << 17;
            buffer[i] = (byte)_state;
        }
        _position += n;
        return n;
    }


    /// <summary>The digest of the bytes a fresh stream with these arguments yields, computed by streaming.</summary>
    public static async Task<Digest> DigestOfAsync(long length, string algorithm = Digest.Sha256, ulong seed = 0x9E3779B97F4A7C15)
    {
        await using var stream = new GeneratingStream(length, seed);
        return await HashAsync(stream, algorithm);
    }

    public static async Task<Digest> HashAsync(Stream stream, string algorithm = Digest.Sha256)
    {
        using var hash = Digest.CreateHash(algorithm);
        var buffer = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0) hash.AppendData(buffer, 0, read);
        return Digest.FromHash(algorithm, hash.GetHashAndReset());
    }
}

/// <summary>The next <c>count</c> bytes of another stream, which stays open: one chunk of a longer body.</summary>
public sealed class LimitedStream(Stream inner, long count) : ReadOnlyTestStream
{
    private long _left = count;

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        if (_left == 0) return 0;
        var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
        _left -= n;
        return n;
    }
}

/// <summary>Yields the given bytes, then fails as a dropped client connection does.</summary>
public sealed class FailingStream(byte[] before, Func<Exception> failure) : ReadOnlyTestStream
{
    private int _position;

    public override long Position { get => _position; set => throw new NotSupportedException(); }


    public override int Read(Span<byte> buffer)
    {
        if (_position >= before.Length) throw failure();
        // Hand out at most 64 KiB per read, as a socket would.
        var n = Math.Min(Math.Min(buffer.Length, 65536), before.Length - _position);
        before.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

}

/// <summary>A body whose first read waits until the test opens the gate; tells when reading started.</summary>
public sealed class GatedStream(byte[] content) : ReadOnlyTestStream
{
    private readonly MemoryStream _inner = new(content, writable: false);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task ReadStarted => _started.Task;

    public void Open() => _gate.TrySetResult();

    public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _started.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken);
        return await _inner.ReadAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Tests read asynchronously.");
}

/// <summary>The members every forward-only, read-only test stream shares; subclasses supply the reading.</summary>
public abstract class ReadOnlyTestStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Synchronous streams answer asynchronous reads at once.</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

public static class TestData
{
    public static byte[] Bytes(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static MemoryStream Body(byte[] bytes) => new(bytes, writable: false);

    public static MemoryStream Body(byte[] bytes, int offset, int count) => new(bytes, offset, count, writable: false);

    public static Digest Sha256(byte[] bytes) => Digest.Compute(bytes);

    public static Digest Sha512(byte[] bytes) => Digest.Compute(bytes, Digest.Sha512);

    public static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public static Digest Hash(byte[] bytes, string algorithm) =>
        Digest.FromHash(algorithm, algorithm == Digest.Sha512 ? SHA512.HashData(bytes) : SHA256.HashData(bytes));
}
