using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Core.Builds;

namespace Wharf.Builds;

/// <summary>Writes the containers auth file and registries.conf engines read, so secrets never appear on a command line.</summary>
internal static class RegistryAuthFiles
{
    /// <summary>An auth.json (<c>{"auths":{host:{"auth":base64(user:pass)}}}</c>) readable by its owner only.</summary>
    public static async Task WriteAuthFileAsync(string path, IEnumerable<RegistryLogin> logins, CancellationToken cancellationToken)
    {
        var auths = new JsonObject();
        foreach (var login in logins)
        {
            auths[login.Host] = new JsonObject
            {
                ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{login.Username}:{login.Password}")),
            };
        }
        var json = new JsonObject { ["auths"] = auths }.ToJsonString();
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using var stream = new FileStream(path, fileOptions);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(json), cancellationToken);
    }

    /// <summary>A registries.conf marking the given hosts as plain HTTP; short names resolve to docker.io.</summary>
    public static Task WriteRegistriesConfAsync(string path, IEnumerable<string> insecureHosts, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        text.AppendLine("unqualified-search-registries = [\"docker.io\"]");
        text.AppendLine("short-name-mode = \"permissive\"");
        foreach (var host in insecureHosts.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            text.AppendLine("[[registry]]");
            text.Append("location = ").AppendLine(JsonSerializer.Serialize(host, RegistryAuthJson.Default.String));
            text.AppendLine("insecure = true");
        }
        return File.WriteAllTextAsync(path, text.ToString(), cancellationToken);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class RegistryAuthJson : System.Text.Json.Serialization.JsonSerializerContext;
