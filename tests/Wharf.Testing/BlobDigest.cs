using System.Security.Cryptography;

namespace Wharf.Testing;

/// <summary>sha256 content digests in the OCI form "sha256:&lt;64 lower-case hex&gt;".</summary>
public static class BlobDigest
{
    public static string Of(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static async Task<string> OfStreamAsync(Stream content, CancellationToken ct)
        => "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(content, ct));

    public static async Task<string> OfFileAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return await OfStreamAsync(stream, ct);
    }

    /// <summary>The hex part of "sha256:hex".</summary>
    public static string Hex(string digest)
    {
        const string prefix = "sha256:";
        if (!digest.StartsWith(prefix, StringComparison.Ordinal) || digest.Length != prefix.Length + 64)
        {
            throw new ArgumentException($"Not a sha256 digest: '{digest}'.", nameof(digest));
        }

        return digest[prefix.Length..];
    }
}
