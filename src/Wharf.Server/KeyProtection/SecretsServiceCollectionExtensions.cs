using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Wharf.Server.KeyProtection;

/// <summary>
/// Secrets at rest: ASP.NET Data Protection (it encrypts stored registry credentials and build secrets) with its key
/// ring in <c>&lt;data&gt;/keys/dataprotection</c> (0700, files 0600), encrypted with the master key when one is given;
/// keys written before a master key was configured are encrypted on the next start. Without one, a warning at start-up.
/// </summary>
public static partial class SecretsServiceCollectionExtensions
{
    private static readonly XNamespace DataProtection = "http://schemas.asp.net/2015/03/dataProtection";

    public static IServiceCollection AddWharfSecrets(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        var options = configuration.GetSection(SecretsOptions.Section).Get<SecretsOptions>() ?? new SecretsOptions();
        var masterKey = MasterKey.FromOptions(options);
        var keys = Path.Combine(dataDir, "keys");
        OwnerOnlyFiles.CreateDirectory(keys);
        var ring = Path.Combine(keys, "dataprotection");
        OwnerOnlyFiles.CreateDirectory(ring);
        if (masterKey is not null)
        {
            EncryptStoredKeys(ring, masterKey);
            services.AddSingleton(masterKey);
        }
        services.AddDataProtection().SetApplicationName("wharf");
        services.Configure<KeyManagementOptions>(o =>
        {
            o.XmlRepository = new OwnerOnlyXmlRepository(new DirectoryInfo(ring));
            if (masterKey is not null) o.XmlEncryptor = new MasterKeyXmlEncryptor(masterKey);
        });
        services.AddHostedService(sp => new SecretsStartupCheck(masterKey is not null, keys, sp.GetRequiredService<ILogger<SecretsStartupCheck>>()));
        return services;
    }

    /// <summary>
    /// Encrypts, in place, the secret parts of keys stored before a master key was configured (the elements marked
    /// <c>requiresEncryption</c>), the way Data Protection itself writes them with an encryptor.
    /// </summary>
    internal static int EncryptStoredKeys(string ring, MasterKey masterKey)
    {
        var encryptor = new MasterKeyXmlEncryptor(masterKey);
        var changed = 0;
        foreach (var file in Directory.EnumerateFiles(ring, "*.xml"))
        {
            var document = XDocument.Load(file, LoadOptions.PreserveWhitespace);
            var plain = document.Descendants()
                .Where(e => (bool?)e.Attribute(DataProtection + "requiresEncryption") == true)
                .ToList();
            if (plain.Count == 0) continue;
            foreach (var element in plain)
            {
                var encrypted = encryptor.Encrypt(new XElement(element));
                element.ReplaceWith(new XElement(DataProtection + "encryptedSecret",
                    new XAttribute("decryptorType", encrypted.DecryptorType.AssemblyQualifiedName!),
                    encrypted.EncryptedElement));
            }
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

    /// <summary>The framework's file-system repository, with each key file readable by the server's user only.</summary>
    private sealed class OwnerOnlyXmlRepository(DirectoryInfo directory) : IXmlRepository
    {
        private readonly FileSystemXmlRepository _inner = new(directory, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        public IReadOnlyCollection<XElement> GetAllElements() => _inner.GetAllElements();

        public void StoreElement(XElement element, string friendlyName)
        {
            _inner.StoreElement(element, friendlyName);
            foreach (var file in directory.EnumerateFiles("*.xml")) OwnerOnlyFiles.Restrict(file.FullName);
        }
    }

    private sealed partial class SecretsStartupCheck(bool encrypted, string keys, ILogger<SecretsStartupCheck> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (!encrypted) LogUnencrypted(logger, keys);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Warning, Message = "No master key is configured (Wharf:Secrets:MasterKeyFile, or the WHARF_MASTER_KEY environment variable): the Data Protection key ring and the token-signing key in {Keys} are stored unencrypted, so whoever reads the data folder can decrypt what Wharf keeps encrypted (stored registry credentials, credentials given to builds).")]
        private static partial void LogUnencrypted(ILogger logger, string keys);
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
