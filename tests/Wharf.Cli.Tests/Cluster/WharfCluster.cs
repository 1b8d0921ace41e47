using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests.Cluster;

/// <summary>
/// A scale-out set on this machine, every part a real process: a database of its own on the test PostgreSQL (migrated
/// by <c>wharf migrate</c>, as an operator upgrades), a prefix of its own in the test Ceph RGW bucket, two
/// <c>wharf serve --workers 0</c> nodes and one <c>wharf worker</c>, each with a data folder of its own, and nginx in
/// front of the two nodes. Every process is stopped (and nginx's folder removed) on dispose.
/// </summary>
public sealed class WharfCluster : IAsyncLifetime
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _dir = TempDirectory.Create("cluster");
    private readonly string _masterKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private PostgresTestDatabase? _database;
    private string[] _common = [];
    private RunningProcess? _nginx;

    /// <summary>The serve nodes, A and B (a node killed and restarted is replaced in place).</summary>
    public RunningProcess[] Nodes { get; } = new RunningProcess[2];

    public int[] NodePorts { get; } = [FreePort.Next(), FreePort.Next()];

    public RunningProcess Worker { get; private set; } = null!;

    public int NginxPort { get; } = FreePort.Next();

    /// <summary>127.0.0.1:PORT of nginx: what clients use.</summary>
    public string Address => $"127.0.0.1:{NginxPort.ToString(CultureInfo.InvariantCulture)}";

    public string NodeUrl(int node) => $"http://127.0.0.1:{NodePorts[node].ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The administrator (the first account, signed up through nginx).</summary>
    public RegistryCredentials Admin { get; } = new("keeper", "cluster-keeper-password-1");

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // xunit does not dispose what failed to initialize: stop whatever did start.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        _database = await PostgresService.CreateDatabaseAsync(migrated: false);
        var rgw = await CephRgwService.GetAsync();
        _common =
        [
            "--Wharf:Database:Type=PostgreSql",
            $"--Wharf:Database:ConnectionString={_database.ConnectionString}",
            .. rgw.ServerArgs(rgw.NewPrefix("cluster")),
            // Every node names the registry as clients see it: the address of nginx.
            $"--Wharf:Builds:RegistryAddress={Address}",
            // Only a signal can explain a tag served fresh by the other node.
            "--Wharf:Registry:TagCacheTtl=01:00:00",
        ];
        var migrate = await ExternalTool.RunAsync("dotnet", [Dll, "migrate", .. _common], new ToolRunOptions { Environment = Environment(), Timeout = StartTimeout });
        Assert.True(migrate.ExitCode == 0, migrate.ToString());

        await Task.WhenAll(StartNodeAsync(0), StartNodeAsync(1));
        await StartNginxAsync();
        Worker = RunningProcess.Start("dotnet", [Dll, "worker", "--data-dir", _dir.Combine("worker"), "--workers", "1", "--registry", Address,
            $"--Wharf:Builds:TempPath={_dir.Combine("worker-bt")}", .. _common], Environment());

        using var http = Client();
        using var signUp = await http.PostAsync("api/v1/users", new StringContent(
            $$"""{"username":"{{Admin.UserName}}","password":"{{Admin.Password}}"}""", Encoding.UTF8, "application/json"));
        Assert.True(signUp.IsSuccessStatusCode, await signUp.Content.ReadAsStringAsync());
    }

    private Dictionary<string, string?> Environment() => new(StringComparer.Ordinal)
    {
        ["WHARF_MASTER_KEY"] = _masterKey,
        ["WHARF_DATA_DIR"] = null,
        ["ASPNETCORE_URLS"] = null,
        ["DOCKERHUB_USERNAME"] = null,
        ["DOCKERHUB_PASSWORD"] = null,
    };

    /// <summary>Starts node <paramref name="node"/> (again, after a kill: same port, same data folder) and waits until it serves.</summary>
    public async Task StartNodeAsync(int node)
    {
        var name = node == 0 ? "a" : "b";
        var process = RunningProcess.Start("dotnet", [Dll, "serve", "--urls", NodeUrl(node), "--data-dir", _dir.Combine("node-" + name), "--workers", "0", .. _common], Environment());
        Nodes[node] = process;
        await process.WaitForAsync("Press Ctrl+C to stop.", StartTimeout);
    }

    /// <summary>kill -9: no shutdown, no flush, whatever the node was doing stops mid-way.</summary>
    public async Task KillNodeAsync(int node)
    {
        await ExternalTool.RunCheckedAsync("kill", ["-KILL", Nodes[node].Id.ToString(CultureInfo.InvariantCulture)]);
        await Nodes[node].WaitForExitAsync(TimeSpan.FromSeconds(30));
        await Nodes[node].DisposeAsync();
    }

    private async Task StartNginxAsync()
    {
        var root = _dir.CreateSubdirectory("nginx");
        var conf = Path.Combine(root, "nginx.conf");
        await File.WriteAllTextAsync(conf, NginxConfig.Render(root, NginxPort, NodePorts.Select(p => $"127.0.0.1:{p}")));
        _nginx = RunningProcess.Start(ExternalTool.RequireTool("nginx"), ["-c", conf, "-p", root, "-e", "stderr"]);
        // Ready once it answers on its port (nginx prints nothing when it starts well).
        using var http = Client();
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                using var ping = await http.GetAsync("healthz");
                if (ping.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (!_nginx.HasExited && DateTime.UtcNow < deadline)
            {
            }
            if (_nginx.HasExited || DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException("nginx did not start:\n" + _nginx.Describe());
            await Task.Delay(100);
        }
    }

    /// <summary>A client of the set through nginx (or of one node), signed in as the administrator when asked.</summary>
    public HttpClient Client(int? node = null, bool signedIn = false)
    {
        var http = new HttpClient { BaseAddress = new Uri((node is { } n ? NodeUrl(n) : "http://" + Address) + "/"), Timeout = TimeSpan.FromMinutes(3) };
        if (signedIn) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Admin.AsCredsArgument)));
        return http;
    }

    public string Describe() => string.Join("\n", Nodes.Where(n => n is not null).Select(n => n.Describe()).Append(Worker?.Describe() ?? "").Append(_nginx?.Describe() ?? ""));

    public async Task DisposeAsync()
    {
        foreach (var process in (RunningProcess?[])[_nginx, Worker, Nodes[0], Nodes[1]])
        {
            if (process is null) continue;
            try
            {
                await process.StopAsync();
            }
            catch (InvalidOperationException)
            {
                // Killed by the test and not restarted.
            }
            await process.DisposeAsync();
        }
        if (_database is not null) await _database.DisposeAsync();
        await _dir.DisposeAsync();
    }
}

/// <summary>The nginx configuration of the cluster test (the same directives as deploy/nginx.conf).</summary>
public static class NginxConfig
{
    public static string Render(string root, int port, IEnumerable<string> upstreams) => $$"""
        daemon off;
        master_process on;
        worker_processes 1;
        user root;
        pid {{root}}/nginx.pid;
        error_log stderr warn;
        events { worker_connections 512; }
        http {
            access_log off;
            client_body_temp_path {{root}}/body;
            proxy_temp_path {{root}}/proxy;
            fastcgi_temp_path {{root}}/fastcgi;
            uwsgi_temp_path {{root}}/uwsgi;
            scgi_temp_path {{root}}/scgi;
            upstream wharf {
        {{string.Join("\n", upstreams.Select(u => $"        server {u} max_fails=1 fail_timeout=10s;"))}}
                keepalive 16;
            }
            server {
                listen 127.0.0.1:{{port}};
                client_max_body_size 0;
                location / {
                    proxy_pass http://wharf;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $http_host;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Proto $scheme;
                    proxy_request_buffering off;
                    proxy_buffering off;
                    proxy_read_timeout 900s;
                    proxy_send_timeout 900s;
                    proxy_next_upstream error timeout http_502;
                }
            }
        }
        """;
}
