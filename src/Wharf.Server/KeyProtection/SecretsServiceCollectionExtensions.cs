using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using System.Text;
using Wharf.Core.Storage;

namespace Wharf.Server.KeyProtection;

/// <summary>
/// Secrets at rest: ASP.NET Data Protection (it encrypts stored registry credentials and build secrets) with its key
/// ring in the metadata database's shared files (<c>dataprotection/key-*.xml</c>), so every node of an installation
/// reads what any other node encrypted; encrypted with the master key when one is given, and keys written before a
/// master key was configured are encrypted on the next start. A key ring an earlier version kept in
/// <c>&lt;data&gt;/keys/dataprotection</c> is taken over on start. Without a master key, a warning at start-up.
/// </summary>
public static partial class SecretsServiceCollectionExtensions
{
    private static readonly XNamespace DataProtection = "http://schemas.asp.net/2015/03/dataProtection";

    /// <summary>Where the key ring's elements are stored among the shared files.</summary>
    public const string KeyRingPrefix = "dataprotection/";

    public static IServiceCollection AddWharfSecrets(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        var options = configuration.GetSection(SecretsOptions.Section).Get<SecretsOptions>() ?? new SecretsOptions();
        var masterKey = MasterKey.FromOptions(options);
        var legacyRing = Path.Combine(dataDir, "keys", "dataprotection");
        if (masterKey is not null)
        {
            if (Directory.Exists(legacyRing)) EncryptStoredKeys(legacyRing, masterKey);
            services.AddSingleton(masterKey);
        }
        services.AddDataProtection().SetApplicationName("wharf");
        services.AddOptions<KeyManagementOptions>().Configure<ISharedFileStore>((o, files) =>
        {
            o.XmlRepository = new SharedXmlRepository(files, legacyRing, masterKey);
            if (masterKey is not null) o.XmlEncryptor = new MasterKeyXmlEncryptor(masterKey);
        });
        services.AddHostedService(sp => new SecretsStartupCheck(masterKey is not null, sp.GetRequiredService<ILogger<SecretsStartupCheck>>()));
        return services;
    }

    /// <summary>Encrypts the secret parts of a key element stored in the clear (the elements marked <c>requiresEncryption</c>); false when there were none.</summary>
    internal static bool EncryptInPlace(XContainer document, MasterKey masterKey)
    {
        var plain = document.Descendants()
            .Where(e => (bool?)e.Attribute(DataProtection + "requiresEncryption") == true)
            .ToList();
        if (plain.Count == 0) return false;
        var encryptor = new MasterKeyXmlEncryptor(masterKey);
        foreach (var element in plain)
        {
            var encrypted = encryptor.Encrypt(new XElement(element));
            element.ReplaceWith(new XElement(DataProtection + "encryptedSecret",
                new XAttribute("decryptorType", encrypted.DecryptorType.AssemblyQualifiedName!),
                encrypted.EncryptedElement));
        }
        return true;
    }

    /// <summary>
    /// Encrypts, in place, the secret parts of keys stored before a master key was configured (the elements marked
    /// <c>requiresEncryption</c>), the way Data Protection itself writes them with an encryptor.
    /// </summary>
    internal static int EncryptStoredKeys(string ring, MasterKey masterKey)
    {
        var changed = 0;
        foreach (var file in Directory.EnumerateFiles(ring, "*.xml"))
        {
            var document = XDocument.Load(file, LoadOptions.PreserveWhitespace);
            if (!EncryptInPlace(document, masterKey)) continue;
            var temp = file + ".tmp-" + Guid.NewGuid().ToString("N");
            using (var stream = new FileStream(temp, OwnerOnlyFiles.NewFile()))
            {
                document.Save(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
            changed++;
        }
        return changed;
    }

    /// <summary>
    /// The key ring in the shared files: each key one create-only file, so two nodes creating a key at once keep both
    /// (Data Protection then uses the newest). Data Protection's repository interface is synchronous; it reads the ring at
    /// start and when a key is due, not per request.
    /// </summary>
    private sealed class SharedXmlRepository(ISharedFileStore files, string legacyRing, MasterKey? masterKey) : IXmlRepository
    {
        private int _imported;

        public IReadOnlyCollection<XElement> GetAllElements() => GetAllElementsAsync().GetAwaiter().GetResult();

        private async Task<IReadOnlyCollection<XElement>> GetAllElementsAsync()
        {
            if (Interlocked.Exchange(ref _imported, 1) == 0) await ImportLegacyRingAsync();
            var elements = new List<XElement>();
            foreach (var path in await files.ListAsync(KeyRingPrefix, CancellationToken.None))
            {
                if (await files.ReadAllBytesAsync(path, CancellationToken.None) is not { } bytes) continue;
                var element = XElement.Parse(Encoding.UTF8.GetString(bytes), LoadOptions.PreserveWhitespace);
                if (masterKey is not null && EncryptInPlace(element, masterKey))
                {
                    // A key stored before the master key was configured: from now on only its encrypted form is kept.
                    await files.WriteAllBytesAsync(path, Encoding.UTF8.GetBytes(element.ToString(SaveOptions.DisableFormatting)), CancellationToken.None);
                }
                elements.Add(element);
            }
            return elements;
        }

        public void StoreElement(XElement element, string friendlyName) =>
            files.CreateAsync(KeyRingPrefix + friendlyName + ".xml", Encoding.UTF8.GetBytes(element.ToString(SaveOptions.DisableFormatting)), CancellationToken.None)
                .GetAwaiter().GetResult();

        /// <summary>Keys an earlier version kept in the data folder join the shared ring (each once: create-only by name).</summary>
        private async Task ImportLegacyRingAsync()
        {
            if (!Directory.Exists(legacyRing)) return;
            foreach (var file in Directory.EnumerateFiles(legacyRing, "*.xml"))
            {
                await files.CreateAsync(KeyRingPrefix + Path.GetFileName(file), await File.ReadAllBytesAsync(file), CancellationToken.None);
            }
        }
    }

    private sealed partial class SecretsStartupCheck(bool encrypted, ILogger<SecretsStartupCheck> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (!encrypted) LogUnencrypted(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Warning, Message = "No master key is configured (Wharf:Secrets:MasterKeyFile, or the WHARF_MASTER_KEY environment variable): the Data Protection key ring and the token-signing key are stored unencrypted in the metadata database, so whoever reads the database (or a backup of it) can decrypt what Wharf keeps encrypted (stored registry credentials, credentials given to builds).")]
        private static partial void LogUnencrypted(ILogger logger);
    }
}

/// <summary>Folders 0700 and files 0600 for Wharf's data folder, its database and its keys.</summary>
internal static class OwnerOnlyFiles
{
    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the folder 0700, or narrows an existing one to 0700.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, Folder);
        if ((System.IO.File.GetUnixFileMode(path) & ~Folder) != 0) System.IO.File.SetUnixFileMode(path, Folder);
    }

    /// <summary>Narrows an existing file to 0600.</summary>
    public static void Restrict(string path)
    {
        if (OperatingSystem.IsWindows() || !System.IO.File.Exists(path)) return;
        if ((System.IO.File.GetUnixFileMode(path) & ~File) != 0) System.IO.File.SetUnixFileMode(path, File);
    }

    public static FileStreamOptions NewFile()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = File;
        return options;
    }
}
