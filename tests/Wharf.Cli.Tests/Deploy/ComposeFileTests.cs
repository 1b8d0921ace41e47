using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Registry;
using Wharf.Data;
using Wharf.Server;
using Wharf.Server.KeyProtection;
using Wharf.Storage;
using Wharf.Testing;
using YamlDotNet.RepresentationModel;

namespace Wharf.Cli.Tests.Deploy;

/// <summary>
/// <c>deploy/compose.yaml</c> as far as this machine can check it (no engine here runs compose): it parses (with its
/// anchors and merge keys), has the set the docs describe, and every <c>Wharf__…</c> key of every Wharf service names
/// a setting Wharf has (bound with unknown keys as errors) and passes Wharf's own validation of its values; nginx's
/// configuration passes <c>nginx -t</c> and sends to both nodes.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly string DeployFolder = FindDeployFolder();

    /// <summary>The options type that binds each section of the keys compose sets.</summary>
    private static readonly Dictionary<string, Type> Sections = new(StringComparer.OrdinalIgnoreCase)
    {
        [DatabaseOptions.Section] = typeof(DatabaseOptions),
        [StorageOptions.Section] = typeof(StorageOptions),
        [SecretsOptions.Section] = typeof(SecretsOptions),
        ["Wharf:" + BuildOptions.Section] = typeof(BuildOptions),
        ["Wharf:" + RegistryOptions.Section] = typeof(RegistryOptions),
        ["Wharf:" + AuthOptions.Section] = typeof(AuthOptions),
        [Wharf.Server.Operations.HealthOptions.Section] = typeof(Wharf.Server.Operations.HealthOptions),
    };

    [Fact]
    public void The_compose_file_runs_postgresql_s3_nginx_two_nodes_a_worker_and_migrations_once()
    {
        var services = Services();
        Assert.Equal(["migrate", "nginx", "node-a", "node-b", "postgres", "s3", "s3-bucket", "worker"], services.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["migrate"], Command(services["migrate"]));
        foreach (var node in (string[])["node-a", "node-b"])
        {
            var command = Command(services[node]);
            Assert.Equal("serve", command[0]);
            Assert.Equal("0", command[command.IndexOf("--workers") + 1]);
            Assert.Equal("http://0.0.0.0:5000", command[command.IndexOf("--urls") + 1]);
            Assert.Equal("service_completed_successfully", Scalar(services[node], "depends_on", "migrate", "condition"));
        }
        Assert.Equal("worker", Command(services["worker"])[0]);
        Assert.Equal("Docker", Environment(services["worker"])["Wharf__Builds__Engine"]);

        var settings = Environment(services["node-a"]);
        Assert.Equal("postgres", new Npgsql.NpgsqlConnectionStringBuilder(settings["Wharf__Database__ConnectionString"]).Host);
        Assert.Equal("s3", new Uri(settings["Wharf__Storage__S3__ServiceUrl"]).Host);
        Assert.Equal(settings["Wharf__Storage__S3__SecretKey"], Environment(services["s3"])["MINIO_ROOT_PASSWORD"]);
        Assert.Equal(settings["Wharf__Storage__S3__Bucket"], Regex.Match(Scalar(services["s3-bucket"], "entrypoint", "2"), @"mc mb --ignore-existing wharf/(\S+)").Groups[1].Value);
        // Every node and the worker share one database, one bucket and one master key.
        foreach (var name in (string[])["migrate", "node-b", "worker"])
        {
            var other = Environment(services[name]);
            foreach (var key in settings.Keys) Assert.Equal(settings[key], other[key]);
        }
    }

    [Theory]
    [InlineData("migrate")]
    [InlineData("node-a")]
    [InlineData("node-b")]
    [InlineData("worker")]
    public async Task Every_Wharf_key_of_a_service_is_a_setting_wharf_has_with_a_value_it_accepts(string service)
    {
        var settings = Environment(Services()[service]);
        Assert.NotEmpty(settings);
        var keys = settings.Keys.Where(k => k.StartsWith("Wharf__", StringComparison.Ordinal)).ToList();
        Assert.Equal(settings.Keys.Order(), keys.Order()); // nothing but Wharf's own settings
        var values = keys.ToDictionary(k => k.Replace("__", ":", StringComparison.Ordinal), k => (string?)settings[k]);

        // Each key binds to a property of its section's options (a misspelt key would otherwise be ignored silently).
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        foreach (var section in values.Keys.Select(SectionOf).Distinct())
        {
            Assert.True(Sections.TryGetValue(section, out var type), $"{service}: no Wharf options bind section {section}");
            var bound = configuration.GetSection(section).Get(type!, o => o.ErrorOnUnknownConfiguration = true);
            Assert.NotNull(bound);
        }

        // And Wharf validates the values as `serve` would, with the secret file and data folder the container has.
        await using var folder = TempDirectory.Create("compose");
        var keyFile = folder.Combine("master.key");
        await File.WriteAllTextAsync(keyFile, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        Assert.Equal("/run/secrets/wharf-master-key", values["Wharf:Secrets:MasterKeyFile"]);
        values["Wharf:Secrets:MasterKeyFile"] = keyFile;
        values["Wharf:DataDir"] = folder.CreateSubdirectory("data");
        var effective = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        WharfServer.AddWharf(new ServiceCollection().AddLogging(), effective);
    }

    [Fact]
    public async Task Nginx_accepts_its_configuration_and_sends_to_both_nodes()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(DeployFolder, "nginx.conf"));
        Assert.Equal(["node-a:5000", "node-b:5000"], UpstreamServer().Matches(text).Select(m => m.Groups[1].Value));
        Assert.Equal("./nginx.conf:/etc/nginx/nginx.conf:ro", Scalar(Services()["nginx"], "volumes", "0"));

        // nginx -t resolves upstream names: here they become loopback addresses, and the port a free one.
        await using var folder = TempDirectory.Create("compose-nginx");
        var conf = folder.Combine("nginx.conf");
        await File.WriteAllTextAsync(conf, text.Replace("node-a:5000", "127.0.0.1:5000", StringComparison.Ordinal)
            .Replace("node-b:5000", "127.0.0.1:5001", StringComparison.Ordinal)
            .Replace("listen 80;", $"listen 127.0.0.1:{FreePort.Next()};", StringComparison.Ordinal));
        var check = await ExternalTool.RunAsync(ExternalTool.RequireTool("nginx"),
            ["-t", "-p", folder.Path, "-c", conf, "-e", "stderr", "-g", $"pid {folder.Combine("nginx.pid")}; daemon off;"]);
        Assert.True(check.ExitCode == 0, check.Describe());
    }

    private static string SectionOf(string key)
    {
        var parts = key.Split(':');
        return parts.Length > 2 ? $"{parts[0]}:{parts[1]}" : parts[0];
    }

    /// <summary>The services, each with compose's merge keys (<c>&lt;&lt;: *anchor</c>) applied: its own keys win.</summary>
    private static Dictionary<string, YamlMappingNode> Services()
    {
        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(Path.Combine(DeployFolder, "compose.yaml"))))
        {
            yaml.Load(reader); // aliases resolve to their anchored nodes
        }
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return ((YamlMappingNode)root["services"]).Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => Merged((YamlMappingNode)e.Value));
    }

    private static YamlMappingNode Merged(YamlMappingNode node)
    {
        var merged = new YamlMappingNode();
        var merge = new YamlScalarNode("<<");
        if (node.Children.TryGetValue(merge, out var defaults))
        {
            foreach (var source in defaults is YamlSequenceNode many ? many.Children : [defaults])
            {
                foreach (var (key, value) in Merged((YamlMappingNode)source).Children) merged.Children[key] = value;
            }
        }
        foreach (var (key, value) in node.Children)
        {
            if (key.Equals(merge)) continue;
            merged.Children[key] = value is YamlMappingNode mapping ? Merged(mapping) : value;
        }
        return merged;
    }

    private static List<string> Command(YamlMappingNode service) =>
        ((YamlSequenceNode)service["command"]).Children.Select(n => ((YamlScalarNode)n).Value!).ToList();

    /// <summary>A service's environment, with compose's <c>${NAME:-default}</c> replaced by the default.</summary>
    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        ((YamlMappingNode)service["environment"]).Children.ToDictionary(
            e => ((YamlScalarNode)e.Key).Value!,
            e => Interpolation().Replace(((YamlScalarNode)e.Value).Value!, m => m.Groups[2].Value),
            StringComparer.Ordinal);

    private static string Scalar(YamlNode node, params string[] path)
    {
        foreach (var step in path)
        {
            node = node is YamlSequenceNode sequence ? sequence.Children[int.Parse(step, System.Globalization.CultureInfo.InvariantCulture)] : ((YamlMappingNode)node)[step];
        }
        return ((YamlScalarNode)node).Value!;
    }

    private static string FindDeployFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "deploy", "compose.yaml");
            if (File.Exists(candidate)) return Path.GetDirectoryName(candidate)!;
        }
        throw new FileNotFoundException("deploy/compose.yaml not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\$\{([A-Z_]+):-([^}]*)\}")]
    private static partial Regex Interpolation();

    [GeneratedRegex(@"^\s*server\s+(\S+:\d+)\s", RegexOptions.Multiline)]
    private static partial Regex UpstreamServer();
}
