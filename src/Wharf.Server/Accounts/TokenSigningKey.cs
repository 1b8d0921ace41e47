using System.Security.Cryptography;
using System.Text;
using Wharf.Core.Storage;
using Wharf.Server.KeyProtection;

namespace Wharf.Server.Accounts;

/// <summary>
/// The ES256 (P-256) key that signs registry tokens. Created on first start and kept in the metadata database's shared
/// files (or, when <c>Wharf:Auth:SigningKeyPath</c> names one, in that PEM file), so every node verifies tokens any
/// other node issued without asking anyone. <see cref="KeyId"/> is the libtrust-style
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

    /// <summary>Where the key is kept among the shared files.</summary>
    public const string SharedPath = "keys/token-signing.pem";

    /// <summary>
    /// Loads the installation's key from the shared files, or creates it there (create-only: of two nodes starting at once,
    /// both end up with the first one's key). A key that an earlier version kept in <paramref name="legacyPath"/> on this
    /// node's disk becomes the shared key when none is stored yet, so tokens and signatures issued before stay valid.
    /// With a <paramref name="masterKey"/> the stored key is encrypted (PKCS#8, AES-256), and one stored in the clear is
    /// encrypted in place.
    /// </summary>
    public static async Task<TokenSigningKey> LoadOrCreateSharedAsync(ISharedFileStore files, string legacyPath, MasterKey? masterKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        const string where = "The token-signing key in the metadata database (" + SharedPath + ")";
        for (var attempt = 0; ; attempt++)
        {
            if (await files.ReadAllBytesAsync(SharedPath, cancellationToken) is { } stored)
            {
                var pem = Encoding.UTF8.GetString(stored);
                var key = Parse(pem, where, masterKey);
                if (masterKey is not null && !pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
                {
                    await files.WriteAllBytesAsync(SharedPath, Encoding.UTF8.GetBytes(Export(key, masterKey)), cancellationToken);
                }
                return new TokenSigningKey(key);
            }
            if (attempt > 0) throw new InvalidOperationException("The token-signing key was created and is not stored.");
            using var created = File.Exists(legacyPath) ? LoadOrCreate(legacyPath, masterKey) : new TokenSigningKey(ECDsa.Create(ECCurve.NamedCurves.nistP256));
            // Whoever stores first wins; everyone then reads what is stored.
            await files.CreateAsync(SharedPath, Encoding.UTF8.GetBytes(Export(created.Key, masterKey)), cancellationToken);
        }
    }

    private static string Export(ECDsa key, MasterKey? masterKey) => masterKey is null
        ? key.ExportPkcs8PrivateKeyPem()
        : key.ExportEncryptedPkcs8PrivateKeyPem(masterKey.PemPassword(), new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000));

    /// <summary>A P-256 key from PEM (encrypted with the master key, or in the clear); <paramref name="where"/> names it in errors.</summary>
    private static ECDsa Parse(string pem, string where, MasterKey? masterKey)
    {
        var key = ECDsa.Create();
        var encrypted = pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal);
        try
        {
            if (encrypted)
            {
                if (masterKey is null)
                {
                    throw new WharfConfigurationException([$"{where} is encrypted with a master key, and none is configured (Wharf:Secrets:MasterKeyFile)."]);
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
                ? $"{where} cannot be decrypted with the configured master key: {e.Message}"
                : $"{where} does not hold a PEM EC private key: {e.Message}"]);
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new WharfConfigurationException([$"{where} must hold a P-256 key for ES256, not a {key.KeySize}-bit key."]);
        }
        return key;
    }

    /// <summary>
    /// Loads the key at <paramref name="path"/>, or creates it there (owner-only permissions) when it does not exist. With
    /// a <paramref name="masterKey"/> the file holds the key encrypted (PKCS#8, AES-256), and a key stored in the clear
    /// before a master key was configured is encrypted in place.
    /// </summary>
    public static TokenSigningKey LoadOrCreate(string path, MasterKey? masterKey = null)
    {
        if (File.Exists(path))
        {
            var pem = File.ReadAllText(path);
            var encrypted = pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal);
            var key = Parse(pem, $"Wharf:Auth:SigningKeyPath '{path}'", masterKey);
            if (!encrypted && masterKey is not null) Write(path, key, masterKey, replace: true);
            else if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return new TokenSigningKey(key);
        }
        var created = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        if (!Write(path, created, masterKey, replace: false))
        {
            // Two nodes starting at once on a shared folder: the first rename wins, the other loads its key.
            created.Dispose();
            return LoadOrCreate(path, masterKey);
        }
        return new TokenSigningKey(created);
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
            writer.Write(Export(key, masterKey));
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
