using System.Security.Cryptography;
using System.Text;

namespace Wharf.Server.Accounts;

/// <summary>
/// The ES256 (P-256) key that signs registry tokens. Created on first start and kept as a PEM file, so every
/// node given the same file verifies tokens without asking anyone. <see cref="KeyId"/> is the libtrust-style
/// fingerprint the token spec's examples use (SHA-256 of the public key, base32, groups of four).
/// </summary>
public sealed class TokenSigningKey : IDisposable
{
    private TokenSigningKey(ECDsa key)
    {
        Key = key;
        var spki = key.ExportSubjectPublicKeyInfo();
        KeyId = LibtrustKeyId(SHA256.HashData(spki));
    }

    public ECDsa Key { get; }

    public string KeyId { get; }

    /// <summary>Loads the key at <paramref name="path"/>, or creates it there (owner-only permissions) when it does not exist.</summary>
    public static TokenSigningKey LoadOrCreate(string path)
    {
        var key = ECDsa.Create();
        if (File.Exists(path))
        {
            try
            {
                key.ImportFromPem(File.ReadAllText(path));
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                key.Dispose();
                throw new WharfConfigurationException([$"Wharf:Auth:SigningKeyPath '{path}' does not hold a PEM EC private key: {e.Message}"]);
            }
            if (key.KeySize != 256)
            {
                key.Dispose();
                throw new WharfConfigurationException([$"Wharf:Auth:SigningKeyPath '{path}' must hold a P-256 key for ES256, not a {key.KeySize}-bit key."]);
            }
            return new TokenSigningKey(key);
        }
        key.Dispose();
        key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem());
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        try
        {
            // Two nodes starting at once on a shared folder: the first rename wins, the other loads its key.
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
            key.Dispose();
            return LoadOrCreate(path);
        }
        return new TokenSigningKey(key);
    }

    private static string LibtrustKeyId(byte[] hash)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = new StringBuilder();
        // 30 bytes = 240 bits = 48 base32 characters, in 12 groups of 4.
        var buffer = 0;
        var count = 0;
        var chars = new StringBuilder(48);
        for (var i = 0; i < 30; i++)
        {
            buffer = (buffer << 8) | hash[i];
            count += 8;
            while (count >= 5)
            {
                chars.Append(alphabet[(buffer >> (count - 5)) & 31]);
                count -= 5;
            }
        }
        for (var i = 0; i < chars.Length; i += 4)
        {
            if (i > 0) bits.Append(':');
            bits.Append(chars, i, 4);
        }
        return bits.ToString();
    }

    public void Dispose() => Key.Dispose();
}
