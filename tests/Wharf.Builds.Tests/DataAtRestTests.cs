using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Server;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// What a copy of the data folder (the database with it) gives away: with a master key, nothing (the key ring and the
/// token-signing key, kept in the database's shared files, are encrypted with it); without one, a warning at start-up
/// says so. The folder is 0700, the database 0600, and no key lies beside it on the node's disk.
/// </summary>
[Trait("Category", "Builds")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DataAtRestTests
{
    private static readonly RegistryCredentials User = new("keeper", "keeper-password-1");
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task The_data_folder_is_0700_the_database_0600_and_no_key_is_on_the_nodes_disk()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--workers", "0");
        await StoreCredentialAsync(server, "first-secret");
        var data = server.DataDir;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        Assert.True(File.GetUnixFileMode(Path.Combine(data, "builds")) == (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute), "builds");
        Assert.False(Directory.Exists(Path.Combine(data, "keys")), "the keys are the installation's, in the database");
        Assert.NotEmpty(await StoredKeyRingAsync(data));
        var files = new List<string> { Path.Combine(data, "wharf.db") };
        if (File.Exists(Path.Combine(data, "wharf.db-wal"))) files.Add(Path.Combine(data, "wharf.db-wal"));
        foreach (var file in files)
        {
            Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{file}: {File.GetUnixFileMode(file)}");
        }
    }

    [Fact]
    public async Task A_key_ring_stored_in_the_clear_is_encrypted_with_the_master_key_on_the_next_start_and_the_data_folder_alone_then_decrypts_nothing()
    {
        await using var work = TempDirectory.Create("masterkey");
        var masterKeyFile = work.Combine("master.key");
        await File.WriteAllBytesAsync(masterKeyFile, RandomNumberGenerator.GetBytes(32), Ct);
        var dataDir = work.CreateSubdirectory("data");
        string ciphertext;
        await using (var before = await WharfTestServer.StartAsync(AuthMode.Accounts, dataDir, "--workers", "0"))
        {
            await StoreCredentialAsync(before, "registry-password-1");
            ciphertext = ReadStoredSecret(dataDir);
        }
        // Without a master key, ten lines and the data folder decrypt the stored password.
        Assert.Equal("registry-password-1", DecryptWithTheDataFolderAlone(dataDir, ciphertext));

        await using (var after = await WharfTestServer.StartAsync(AuthMode.Accounts, dataDir, "--workers", "0", $"--Wharf:Secrets:MasterKeyFile={masterKeyFile}"))
        {
            // The server itself still reads what it stored.
            Assert.Equal("registry-password-1", after.Services.GetRequiredService<ISecretProtector>().Unprotect(ciphertext));
            await StoreCredentialAsync(after, "registry-password-2", host: "other.example.test");
        }

        Assert.Throws<CryptographicException>(() => DecryptWithTheDataFolderAlone(dataDir, ciphertext));
        var ring = await StoredKeyRingAsync(dataDir);
        Assert.NotEmpty(ring);
        foreach (var xml in ring.Values)
        {
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
            Assert.Contains("wharfEncryptedKey", xml, StringComparison.Ordinal);
        }
        Assert.Contains("ENCRYPTED PRIVATE KEY", (await StoredFilesAsync(dataDir, "keys/"))[Wharf.Server.Accounts.TokenSigningKey.SharedPath], StringComparison.Ordinal);
        // And without the master key the server says why it cannot start.
        var refused = await Assert.ThrowsAsync<WharfConfigurationException>(() => WharfTestServer.StartAsync(AuthMode.Accounts, dataDir, "--workers", "0"));
        Assert.Contains("Wharf:Secrets:MasterKeyFile", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_up_warns_when_no_master_key_is_given_and_not_when_one_is()
    {
        await using var work = TempDirectory.Create("mkwarn");
        await File.WriteAllTextAsync(work.Combine("master.key"), Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), Ct);
        string withoutKey;
        await using (var plain = await ServeProcess.StartAsync(work.CreateSubdirectory("a"), work.CreateSubdirectory("a-bt"), Ct, "--workers", "0"))
        {
            withoutKey = await WaitForOutputAsync(plain, "Wharf:Secrets:MasterKeyFile");
        }
        Assert.Contains("No master key is configured", withoutKey, StringComparison.Ordinal);
        await using var keyed = await ServeProcess.StartAsync(work.CreateSubdirectory("b"), work.CreateSubdirectory("b-bt"), Ct, "--workers", "0", $"--Wharf:Secrets:MasterKeyFile={work.Combine("master.key")}");
        // Start-up is over once the build service's recovery logged; by then the warning would have been written.
        await WaitForOutputAsync(keyed, "Builds run");
        Assert.DoesNotContain("No master key is configured", keyed.Output, StringComparison.Ordinal);
    }

    private async Task<string> WaitForOutputAsync(ServeProcess serve, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!serve.Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"wharf serve never printed '{text}':\n{serve.Output}");
            await Task.Delay(100, Ct);
        }
        return serve.Output;
    }

    /// <summary>The "ten-line program": Data Protection pointed at a copy of the data folder's key ring, nothing else.</summary>
    private static string DecryptWithTheDataFolderAlone(string dataDir, string ciphertext)
    {
        // A copy, as a thief would take it (Data Protection adds a key of its own where it finds none it can read).
        var copy = Directory.CreateTempSubdirectory("stolen-ring-");
        try
        {
            foreach (var (path, xml) in StoredKeyRingAsync(dataDir).GetAwaiter().GetResult()) File.WriteAllText(Path.Combine(copy.FullName, Path.GetFileName(path)), xml);
            var provider = DataProtectionProvider.Create(copy, b => b.SetApplicationName("wharf"));
            return provider.CreateProtector("Wharf.Builds.RegistryCredentials.v1").Unprotect(ciphertext);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    /// <summary>The key ring's files as the database holds them, read with nothing but the database file.</summary>
    private static Task<Dictionary<string, string>> StoredKeyRingAsync(string dataDir) => StoredFilesAsync(dataDir, Wharf.Server.KeyProtection.SecretsServiceCollectionExtensions.KeyRingPrefix);

    private static async Task<Dictionary<string, string>> StoredFilesAsync(string dataDir, string prefix)
    {
        using var connections = new Wharf.Data.Sqlite.SqliteConnectionFactory(Wharf.Data.Sqlite.SqliteOptions.ForFile(Path.Combine(dataDir, "wharf.db")));
        var files = new Wharf.Data.Sqlite.SqliteSharedFileStore(connections);
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in await files.ListAsync(prefix, CancellationToken.None))
        {
            found[path] = Encoding.UTF8.GetString((await Wharf.Core.Storage.SharedFileStoreExtensions.ReadAllBytesAsync(files, path, CancellationToken.None))!);
        }
        return found;
    }

    private static string ReadStoredSecret(string dataDir)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDir, "wharf.db")};Pooling=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = "SELECT secret FROM registry_credentials LIMIT 1";
        return (string)command.ExecuteScalar()!;
    }

    private async Task StoreCredentialAsync(WharfTestServer server, string secret, string host = "registry.example.test")
    {
        using var http = server.CreateClient();
        using (var signUp = await http.PostAsync("api/v1/users", Json(new JsonObject { ["username"] = User.UserName, ["password"] = User.Password }), Ct))
        {
            // A restart on the same data folder finds the user already there.
            Assert.True(signUp.IsSuccessStatusCode || (int)signUp.StatusCode == 409, await signUp.Content.ReadAsStringAsync(Ct));
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(User.AsCredsArgument)));
        using var stored = await http.PostAsync("api/v1/registry-credentials", Json(new JsonObject { ["host"] = host, ["username"] = "robot", ["secret"] = secret }), Ct);
        Assert.True(stored.IsSuccessStatusCode, await stored.Content.ReadAsStringAsync(Ct));
    }

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
