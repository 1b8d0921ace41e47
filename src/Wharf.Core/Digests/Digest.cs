using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Wharf.Core.Digests;

/// <summary>
/// A content digest as the OCI image spec defines it: <c>algorithm ":" encoded</c>.
/// Only the registered algorithms <c>sha256</c> and <c>sha512</c> are accepted, with lower-case hex.
/// Parsing and validation live here and nowhere else.
/// </summary>
public readonly record struct Digest
{
    public const string Sha256 = "sha256";
    public const string Sha512 = "sha512";

    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>The algorithm, <c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The lower-case hex encoding of the hash.</summary>
    public string Hex { get; }

    public HashAlgorithmName HashAlgorithm => Algorithm == Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;

    public override string ToString() => Algorithm is null ? "" : string.Concat(Algorithm, ":", Hex);

    /// <summary>True when <paramref name="algorithm"/> is one Wharf can verify.</summary>
    public static bool IsSupportedAlgorithm(string? algorithm) => algorithm is Sha256 or Sha512;

    public static int HexLength(string algorithm) => algorithm == Sha512 ? 128 : 64;

    public static bool TryParse([NotNullWhen(true)] string? text, out Digest digest)
    {
        digest = default;
        if (string.IsNullOrEmpty(text)) return false;
        var colon = text.IndexOf(':');
        if (colon <= 0) return false;
        var algorithm = text[..colon];
        if (!IsSupportedAlgorithm(algorithm)) return false;
        var hex = text.AsSpan(colon + 1);
        if (hex.Length != HexLength(algorithm)) return false;
        foreach (var c in hex)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        }
        digest = new Digest(algorithm, hex.ToString());
        return true;
    }

    /// <summary>
    /// True when <paramref name="text"/> has the general shape of a digest (<c>alg:encoded</c>)
    /// even if the algorithm is unsupported; used to tell "not a digest" from "unsupported digest".
    /// </summary>
    public static bool LooksLikeDigest(string? text)
    {
        if (string.IsNullOrEmpty(text)) return false;
        var colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1) return false;
        foreach (var c in text.AsSpan(0, colon))
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('+' or '.' or '_' or '-')) return false;
        }
        foreach (var c in text.AsSpan(colon + 1))
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('=' or '_' or '-')) return false;
        }
        return true;
    }

    public static Digest Parse(string text) =>
        TryParse(text, out var digest) ? digest : throw new FormatException($"'{text}' is not a valid sha256 or sha512 digest.");

    public static Digest Compute(ReadOnlySpan<byte> content, string algorithm = Sha256)
    {
        Span<byte> hash = stackalloc byte[64];
        var written = algorithm == Sha512 ? SHA512.HashData(content, hash) : SHA256.HashData(content, hash);
        return FromHash(algorithm, hash[..written]);
    }

    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash)
    {
        if (!IsSupportedAlgorithm(algorithm)) throw new ArgumentException($"Unsupported digest algorithm '{algorithm}'.", nameof(algorithm));
        return new Digest(algorithm, Convert.ToHexStringLower(hash));
    }

    public static IncrementalHash CreateHash(string algorithm) =>
        IncrementalHash.CreateHash(algorithm == Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256);
}
