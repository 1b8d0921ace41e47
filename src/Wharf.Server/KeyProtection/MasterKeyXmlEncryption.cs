using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Wharf.Server.KeyProtection;

/// <summary>
/// Encrypts the secret parts of Data Protection keys with the master key (AES-256-GCM), wherever the key ring is
/// stored: the framework's <see cref="IXmlEncryptor"/> seam, so the repository (a folder today, a shared store later)
/// holds ciphertext only.
/// </summary>
public sealed class MasterKeyXmlEncryptor(MasterKey key) : IXmlEncryptor
{
    internal static readonly XName Element = "wharfEncryptedKey";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        try
        {
            var sealedData = key.Encrypt(plaintext);
            var element = new XElement(Element,
                new XAttribute("masterKeyId", key.KeyId),
                new XComment(" Encrypted with Wharf's master key (Wharf:Secrets:MasterKeyFile). "),
                new XElement("value", Convert.ToBase64String(sealedData)));
            return new EncryptedXmlInfo(element, typeof(MasterKeyXmlDecryptor));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}

/// <summary>Decrypts what <see cref="MasterKeyXmlEncryptor"/> wrote; made by Data Protection's activator with the service provider.</summary>
public sealed class MasterKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        var key = services.GetService(typeof(MasterKey)) as MasterKey
            ?? throw new CryptographicException("This key ring is encrypted with a master key, and none is configured (Wharf:Secrets:MasterKeyFile).");
        var keyId = (string?)encryptedElement.Attribute("masterKeyId");
        if (keyId != key.KeyId)
        {
            throw new CryptographicException($"This key ring is encrypted with another master key ({keyId}) than the one configured ({key.KeyId}).");
        }
        var sealedData = Convert.FromBase64String((string?)encryptedElement.Element("value") ?? throw new CryptographicException("The encrypted key has no value."));
        var plaintext = key.Decrypt(sealedData);
        try
        {
            return XElement.Parse(Encoding.UTF8.GetString(plaintext));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}
