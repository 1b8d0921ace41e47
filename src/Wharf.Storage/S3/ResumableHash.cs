using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Wharf.Core.Digests;

namespace Wharf.Storage.S3;

/// <summary>
/// SHA-256 or SHA-512 whose running state can be saved and resumed elsewhere, as the reference registry keeps its
/// upload hashes: a chunked upload to S3 may continue on another node, which must go on hashing where the last one
/// stopped (the parts already uploaded cannot be read back before the upload completes). .NET's hash classes cannot
/// export their state, so this uses the same OpenSSL library .NET itself hashes with on Linux, through its
/// <c>SHA256_CTX</c>/<c>SHA512_CTX</c> functions, whose context is a plain public struct (<c>openssl/sha.h</c>): the
/// saved state is that struct's bytes. A self-test at first use, and a bit-count check on every resume, make sure
/// the layout is the one expected.
/// </summary>
internal sealed unsafe class ResumableHash
{
    private const byte FormatVersion = 1;
    private const int Sha256ContextSize = 112; // h[8] u32, Nl, Nh u32, data[16] u32, num, md_len
    private const int Sha512ContextSize = 216; // h[8] u64, Nl, Nh u64, u.d[16] u64, num, md_len

    private readonly byte[] _context;

    private ResumableHash(string algorithm, byte[] context)
    {
        Algorithm = algorithm;
        _context = context;
    }

    public string Algorithm { get; }

    /// <summary>Bytes hashed so far (from the context's own bit counter).</summary>
    public long Length => Algorithm == Digest.Sha512
        ? (long)(BinaryPrimitives.ReadUInt64LittleEndian(_context.AsSpan(64)) >> 3)
        : (long)((((ulong)BinaryPrimitives.ReadUInt32LittleEndian(_context.AsSpan(36)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(_context.AsSpan(32))) >> 3);

    public static ResumableHash Create(string algorithm)
    {
        var native = Native.Value;
        var context = new byte[ContextSize(algorithm)];
        fixed (byte* ctx = context)
        {
            var ok = algorithm == Digest.Sha512 ? native.Sha512Init(ctx) : native.Sha256Init(ctx);
            if (ok != 1) throw new CryptographicException($"OpenSSL {algorithm} init failed.");
        }
        return new ResumableHash(algorithm, context);
    }

    /// <summary>
    /// Resumes a state saved by <see cref="Export"/> that has hashed exactly <paramref name="expectedLength"/> bytes
    /// with <paramref name="algorithm"/>; throws <see cref="InvalidDataException"/> when the state is not that.
    /// </summary>
    public static ResumableHash Import(string algorithm, ReadOnlySpan<byte> state, long expectedLength)
    {
        _ = Native.Value;
        var size = ContextSize(algorithm);
        if (state.Length != size + 2 || state[0] != FormatVersion || state[1] != AlgorithmId(algorithm))
            throw new InvalidDataException($"The saved {algorithm} state is not one this version of Wharf wrote.");
        var hash = new ResumableHash(algorithm, state[2..].ToArray());
        if (hash.Length != expectedLength)
            throw new InvalidDataException($"The saved {algorithm} state covers {hash.Length} bytes, not {expectedLength}.");
        return hash;
    }

    /// <summary>The state, to be resumed with <see cref="Import"/>: a version byte, the algorithm, the context.</summary>
    public byte[] Export()
    {
        var state = new byte[_context.Length + 2];
        state[0] = FormatVersion;
        state[1] = AlgorithmId(Algorithm);
        _context.CopyTo(state, 2);
        return state;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        var native = Native.Value;
        fixed (byte* ctx = _context)
        fixed (byte* bytes = data)
        {
            var ok = Algorithm == Digest.Sha512 ? native.Sha512Update(ctx, bytes, (nuint)data.Length) : native.Sha256Update(ctx, bytes, (nuint)data.Length);
            if (ok != 1) throw new CryptographicException($"OpenSSL {Algorithm} update failed.");
        }
    }

    /// <summary>The digest of what has been hashed so far; the hash can go on afterwards.</summary>
    public Digest Current()
    {
        var native = Native.Value;
        var copy = (byte[])_context.Clone();
        Span<byte> digest = stackalloc byte[Algorithm == Digest.Sha512 ? 64 : 32];
        fixed (byte* ctx = copy)
        fixed (byte* md = digest)
        {
            var ok = Algorithm == Digest.Sha512 ? native.Sha512Final(md, ctx) : native.Sha256Final(md, ctx);
            if (ok != 1) throw new CryptographicException($"OpenSSL {Algorithm} final failed.");
        }
        return Digest.FromHash(Algorithm, digest);
    }

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> with the reason when resumable hashing cannot work here.</summary>
    public static void EnsureAvailable() => _ = Native.Value;

    private static int ContextSize(string algorithm) => algorithm switch
    {
        Digest.Sha256 => Sha256ContextSize,
        Digest.Sha512 => Sha512ContextSize,
        _ => throw new ArgumentException($"Unsupported digest algorithm '{algorithm}'.", nameof(algorithm)),
    };

    private static byte AlgorithmId(string algorithm) => algorithm == Digest.Sha512 ? (byte)2 : (byte)1;

    private static readonly Lazy<Functions> Native = new(Functions.Load);

    private sealed class Functions
    {
        public delegate* unmanaged<byte*, int> Sha256Init;
        public delegate* unmanaged<byte*, byte*, nuint, int> Sha256Update;
        public delegate* unmanaged<byte*, byte*, int> Sha256Final;
        public delegate* unmanaged<byte*, int> Sha512Init;
        public delegate* unmanaged<byte*, byte*, nuint, int> Sha512Update;
        public delegate* unmanaged<byte*, byte*, int> Sha512Final;

        private static readonly string[] Candidates = ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so", "libcrypto.3.dylib", "libcrypto.dylib"];

        public static Functions Load()
        {
            var library = IntPtr.Zero;
            foreach (var name in Candidates)
            {
                if (NativeLibrary.TryLoad(name, out library)) break;
            }
            if (library == IntPtr.Zero)
            {
                throw new PlatformNotSupportedException(
                    "The S3 blob store needs OpenSSL's libcrypto (libcrypto.so.3 or .so.1.1) to keep resumable upload hashes; none was found.");
            }
            var functions = new Functions
            {
                Sha256Init = (delegate* unmanaged<byte*, int>)Export(library, "SHA256_Init"),
                Sha256Update = (delegate* unmanaged<byte*, byte*, nuint, int>)Export(library, "SHA256_Update"),
                Sha256Final = (delegate* unmanaged<byte*, byte*, int>)Export(library, "SHA256_Final"),
                Sha512Init = (delegate* unmanaged<byte*, int>)Export(library, "SHA512_Init"),
                Sha512Update = (delegate* unmanaged<byte*, byte*, nuint, int>)Export(library, "SHA512_Update"),
                Sha512Final = (delegate* unmanaged<byte*, byte*, int>)Export(library, "SHA512_Final"),
            };
            functions.SelfTest();
            return functions;
        }

        private static IntPtr Export(IntPtr library, string name) =>
            NativeLibrary.TryGetExport(library, name, out var address)
                ? address
                : throw new PlatformNotSupportedException($"OpenSSL's libcrypto has no {name}; the S3 blob store needs it for resumable upload hashes.");

        /// <summary>Hashes a known input in two pieces with a save and resume in between, and compares with .NET's own hash.</summary>
        private void SelfTest()
        {
            var input = new byte[1000];
            for (var i = 0; i < input.Length; i++) input[i] = (byte)(i * 7);
            Span<byte> digest = stackalloc byte[64];
            foreach (var algorithm in new[] { Digest.Sha256, Digest.Sha512 })
            {
                var size = ContextSize(algorithm);
                var context = new byte[size];
                var length = algorithm == Digest.Sha512 ? 64 : 32;
                fixed (byte* ctx = context)
                fixed (byte* data = input)
                fixed (byte* md = digest)
                {
                    var sha512 = algorithm == Digest.Sha512;
                    var ok = sha512 ? Sha512Init(ctx) : Sha256Init(ctx);
                    ok &= sha512 ? Sha512Update(ctx, data, 333) : Sha256Update(ctx, data, 333);
                    var saved = context.AsSpan().ToArray();
                    if (new ResumableHash(algorithm, saved).Length != 333)
                        throw new PlatformNotSupportedException($"OpenSSL's {algorithm} context layout is not the one expected; resumable upload hashes are unavailable.");
                    context.AsSpan().Clear();
                    saved.CopyTo(context, 0);
                    ok &= sha512 ? Sha512Update(ctx, data + 333, 667) : Sha256Update(ctx, data + 333, 667);
                    ok &= sha512 ? Sha512Final(md, ctx) : Sha256Final(md, ctx);
                    var expected = sha512 ? SHA512.HashData(input) : SHA256.HashData(input);
                    if (ok != 1 || !digest[..length].SequenceEqual(expected))
                        throw new PlatformNotSupportedException($"OpenSSL's {algorithm} context does not behave as expected here; resumable upload hashes are unavailable.");
                }
            }
        }
    }
}
