using System.Security.Cryptography;
using System.Text;
using Wharf.Server.KeyProtection;

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

    /// <summary>
    /// Loads the key at <paramref name="path"/>, or creates it there (owner-only permissions) when it does not exist. With
    /// a <paramref name="masterKey"/> the file holds the key encrypted (PKCS#8, AES-256), and a key stored in the clear
    /// before a master key was configured is encrypted in place.
    /// </summary>
    public static TokenSigningKey LoadOrCreate(string path, MasterKey? masterKey = null)
    {
        var key = ECDsa.Create();
        if (File.Exists(path))
        {
            var pem = File.ReadAllText(path);
            var encrypted = pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal);
            try
            {
                if (encrypted)
                {
                    if (masterKey is null)
                    {
                        throw new WharfConfigurationException([$"Wharf:Auth:SigningKeyPath '{path}' is encrypted with a master key, and none is configured (Wharf:Secrets:MasterKeyFile)."]);
                    }
                    key.ImportFromEncryptedPem(pem, masterKey.PemPassword());
                }
                else
                {
                    key.ImportFromPem(pem);
                }
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                key.Dispose();
                throw new WharfConfigurationException([encrypted
                    ? $"Wharf:Auth:SigningKeyPath '{path}' cannot be decrypted with the configured master key: {e.Message}"
                    : $"Wharf:Auth:SigningKeyPath '{path}' does not hold a PEM EC private key: {e.Message}"]);
            }
            if (key.KeySize != 256)
            {
                key.Dispose();
                throw new WharfConfigurationException([$"Wharf:Auth:SigningKeyPath '{path}' must hold a P-256 key for ES256, not a {key.KeySize}-bit key."]);
            }
            if (!encrypted && masterKey is not null) Write(path, key, masterKey, replace: true);
            else if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return new TokenSigningKey(key);
        }
        key.Dispose();
        key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        if (!Write(path, key, masterKey, replace: false))
        {
            // Two nodes starting at once on a shared folder: the first rename wins, the other loads its key.
            key.Dispose();
            return LoadOrCreate(path, masterKey);
        }
        return new TokenSigningKey(key);
    }

    /// <summary>Writes the key (encrypted with the master key when there is one) through a temp file; false when another got there first.</summary>
    private static bool Write(string path, ECDsa key, MasterKey? masterKey, bool replace)
    {
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            writer.Write(masterKey is null
                ? key.ExportPkcs8PrivateKeyPem()
                : key.ExportEncryptedPkcs8PrivateKeyPem(masterKey.PemPassword(), new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        try
        {
            File.Move(temp, path, overwrite: replace);
            return true;
        }
        catch (IOException) when (!replace && File.Exists(path))
        {
            File.Delete(temp);
            return false;
        }
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
