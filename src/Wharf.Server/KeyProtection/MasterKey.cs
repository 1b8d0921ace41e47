using System.Security.Cryptography;
using System.Text;

namespace Wharf.Server.KeyProtection;

/// <summary>Section <c>Wharf:Secrets</c>: the master key that encrypts Wharf's own keys at rest.</summary>
public sealed class SecretsOptions
{
    public const string Section = "Wharf:Secrets";

    /// <summary>The environment variable that may hold the master key itself (at least 32 characters).</summary>
    public const string EnvironmentVariable = "WHARF_MASTER_KEY";

    /// <summary>
    /// A file holding the master key (at least 32 bytes, e.g. <c>head -c 32 /dev/urandom &gt; master.key</c>): it encrypts the
    /// Data Protection key ring and the token-signing key. Default none (they are stored unencrypted, with a warning).
    /// </summary>
    public string? MasterKeyFile { get; set; }

    /// <summary>The master key itself, for deployments that pass it through the environment (<c>Wharf__Secrets__MasterKey</c> or <c>WHARF_MASTER_KEY</c>).</summary>
    public string? MasterKey { get; set; }
}

/// <summary>
/// The master key, as 256 bits derived (HKDF-SHA256) from what the operator gave, so any sufficiently long random file
/// or string serves. <see cref="KeyId"/> names it without revealing it, so a key ring encrypted with another key says so.
/// </summary>
public sealed class MasterKey
{
    public const int MinimumBytes = 32;

    private MasterKey(byte[] material)
    {
        Key = HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 32, salt: "wharf-master-key"u8.ToArray(), info: "wharf key encryption v1"u8.ToArray());
        KeyId = Convert.ToHexStringLower(SHA256.HashData(Key))[..16];
    }

    /// <summary>The derived 256-bit key.</summary>
    public byte[] Key { get; }

    /// <summary>A fingerprint of the key (not the key): recorded beside what it encrypted.</summary>
    public string KeyId { get; }

    /// <summary>The configured master key, or null when none is given; throws <see cref="WharfConfigurationException"/> when it is unusable.</summary>
    public static MasterKey? FromOptions(SecretsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MasterKeyFile is { Length: > 0 } path)
        {
            byte[] material;
            try
            {
                material = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new WharfConfigurationException([$"Wharf:Secrets:MasterKeyFile '{path}' cannot be read: {e.Message}"]);
            }
            var trimmed = TrimNewline(material);
            if (trimmed.Length < MinimumBytes)
            {
                throw new WharfConfigurationException([$"Wharf:Secrets:MasterKeyFile '{path}' holds {trimmed.Length} bytes; a master key needs at least {MinimumBytes} (e.g. head -c 32 /dev/urandom > {path})."]);
            }
            return new MasterKey(trimmed);
        }
        var text = options.MasterKey is { Length: > 0 } configured ? configured : Environment.GetEnvironmentVariable(SecretsOptions.EnvironmentVariable);
        if (string.IsNullOrEmpty(text)) return null;
        var bytes = Encoding.UTF8.GetBytes(text.Trim());
        if (bytes.Length < MinimumBytes)
        {
            throw new WharfConfigurationException([$"The master key (Wharf:Secrets:MasterKey or {SecretsOptions.EnvironmentVariable}) must be at least {MinimumBytes} characters."]);
        }
        return new MasterKey(bytes);
    }

    /// <summary>AES-256-GCM: nonce (12) ‖ tag (16) ‖ ciphertext, the key id bound in as associated data.</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[12 + 16 + plaintext.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(Key, 16);
        aes.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(28), output.AsSpan(12, 16), Encoding.ASCII.GetBytes(KeyId));
        return output;
    }

    /// <summary>Decrypts what <see cref="Encrypt"/> made; throws <see cref="CryptographicException"/> with another key or altered data.</summary>
    public byte[] Decrypt(ReadOnlySpan<byte> sealedData)
    {
        if (sealedData.Length < 28) throw new CryptographicException("The encrypted data is too short.");
        var plaintext = new byte[sealedData.Length - 28];
        using var aes = new AesGcm(Key, 16);
        aes.Decrypt(sealedData[..12], sealedData[28..], sealedData.Slice(12, 16), plaintext, Encoding.ASCII.GetBytes(KeyId));
        return plaintext;
    }

    /// <summary>A password for the encrypted PKCS#8 form of private keys (PEM files).</summary>
    public byte[] PemPassword() => HKDF.DeriveKey(HashAlgorithmName.SHA256, Key, 32, info: "wharf pem password v1"u8.ToArray());

    private static byte[] TrimNewline(byte[] material)
    {
        var length = material.Length;
        while (length > 0 && material[length - 1] is (byte)'\n' or (byte)'\r') length--;
        return material[..length];
    }
}
