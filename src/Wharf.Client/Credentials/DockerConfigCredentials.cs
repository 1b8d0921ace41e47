using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wharf.Client.Credentials;

/// <summary>
/// Credentials in docker's <c>config.json</c> (<c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>), in docker's
/// own format: <c>auths.HOST.auth = base64(user:secret)</c>, or <c>base64(user:)</c> with <c>auths.HOST.identitytoken</c>
/// (a refresh token, as <c>docker login</c> stores it for registries that hand one out), or through a credential helper named by <c>credHelpers.HOST</c> or
/// <c>credsStore</c> (<c>docker-credential-NAME get|store|erase</c>, JSON on stdin/stdout). Keys this class does not know are kept.
/// </summary>
public sealed class DockerConfigCredentials(string configPath) : ICredentialStore
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The user name docker gives an identity token in a credential helper.</summary>
    public const string IdentityTokenUser = "<token>";

    public string ConfigPath { get; } = configPath;

    /// <summary>The configuration docker itself would use: <c>DOCKER_CONFIG</c>, else <c>~/.docker</c>.</summary>
    public static DockerConfigCredentials Default()
    {
        var dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (string.IsNullOrEmpty(dir)) dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        return new DockerConfigCredentials(Path.Combine(dir, "config.json"));
    }

    public async Task<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken)
    {
        var config = await ReadAsync(cancellationToken);
        if (HelperFor(config, registry) is { } helper)
        {
            var result = await RunHelperAsync(helper, "get", registry, cancellationToken);
            if (result.ExitCode != 0) return null; // "credentials not found in native keychain"
            var payload = JsonSerializer.Deserialize(result.Output, CredentialJsonContext.Default.CredentialHelperPayload);
            // docker keeps an identity token in a helper under the user name "<token>".
            if (payload?.Username == IdentityTokenUser && payload.Secret is { Length: > 0 } token) return RegistryCredential.ForIdentityToken("", token);
            return payload?.Username is { Length: > 0 } user && payload.Secret is not null ? new RegistryCredential(user, payload.Secret) : null;
        }
        var entry = config["auths"]?[registry] as JsonObject ?? config["auths"]?["http://" + registry] as JsonObject;
        if (entry is null) return null;
        var fromAuth = RegistryCredential.FromBasicValue((string?)entry["auth"]);
        if ((string?)entry["identitytoken"] is { Length: > 0 } identityToken) return RegistryCredential.ForIdentityToken(fromAuth?.UserName ?? "", identityToken);
        if (fromAuth is not null) return fromAuth;
        return (string?)entry["username"] is { Length: > 0 } u && (string?)entry["password"] is { } p ? new RegistryCredential(u, p) : null;
    }

    /// <summary>Stores the credential, through the configured helper when there is one, else in <c>auths</c>.</summary>
    public async Task StoreAsync(string registry, RegistryCredential credential, CancellationToken cancellationToken)
    {
        var config = await ReadAsync(cancellationToken);
        var auths = config["auths"] as JsonObject;
        if (auths is null)
        {
            auths = new JsonObject();
            config["auths"] = auths;
        }
        if (HelperFor(config, registry) is { } helper)
        {
            var payload = JsonSerializer.Serialize(credential.HasIdentityToken
                    ? new CredentialHelperPayload { ServerURL = registry, Username = IdentityTokenUser, Secret = credential.IdentityToken }
                    : new CredentialHelperPayload { ServerURL = registry, Username = credential.UserName, Secret = credential.Secret },
                CredentialJsonContext.Default.CredentialHelperPayload);
            var result = await RunHelperAsync(helper, "store", payload, cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new WharfClientException(ClientErrorKind.Failure, $"docker-credential-{helper} store failed: {result.Output.Trim()} {result.Error.Trim()}");
            }
            auths[registry] = new JsonObject(); // docker leaves an empty entry so that the host is listed
        }
        else
        {
            // As docker writes it: with an identity token, "auth" holds only the user name, and no password is kept.
            auths[registry] = credential.HasIdentityToken
                ? new JsonObject { ["auth"] = credential.BasicValue, ["identitytoken"] = credential.IdentityToken }
                : new JsonObject { ["auth"] = credential.BasicValue };
        }
        await WriteAsync(config, cancellationToken);
    }

    /// <summary>Removes the registry's credential; false when there was none.</summary>
    public async Task<bool> EraseAsync(string registry, CancellationToken cancellationToken)
    {
        var config = await ReadAsync(cancellationToken);
        var removed = false;
        if (HelperFor(config, registry) is { } helper)
        {
            removed = (await RunHelperAsync(helper, "erase", registry, cancellationToken)).ExitCode == 0;
        }
        if (config["auths"] is JsonObject auths)
        {
            removed |= auths.Remove(registry);
            removed |= auths.Remove("http://" + registry);
        }
        await WriteAsync(config, cancellationToken);
        return removed;
    }

    private static string? HelperFor(JsonObject config, string registry) =>
        (string?)config["credHelpers"]?[registry] is { Length: > 0 } specific ? specific
        : (string?)config["credsStore"] is { Length: > 0 } store ? store
        : null;

    private async Task<JsonObject> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(ConfigPath)) return new JsonObject();
        await using var stream = File.OpenRead(ConfigPath);
        if (stream.Length == 0) return new JsonObject();
        try
        {
            return await JsonNode.ParseAsync(stream, cancellationToken: cancellationToken) as JsonObject ?? new JsonObject();
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"{ConfigPath} is not valid JSON ({e.Message}); fix or remove it.");
        }
    }

    private async Task WriteAsync(JsonObject config, CancellationToken cancellationToken)
    {
        var dir = Path.GetDirectoryName(ConfigPath)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".config.json.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // secrets: owner only
        await using (var stream = new FileStream(temp, options))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(config.ToJsonString(Indented) + "\n"), cancellationToken);
        }
        File.Move(temp, ConfigPath, overwrite: true);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunHelperAsync(string helper, string verb, string input, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo($"docker-credential-{helper}")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(verb);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new WharfClientException(ClientErrorKind.Failure,
                $"The credential helper docker-credential-{helper} named in the docker config could not be run ({e.Message}); install it or remove it from the config.");
        }
        using (process)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            return (process.ExitCode, await output, await error);
        }
    }
}
