using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Core.Accounts;
using Wharf.Server;

namespace Wharf.Testing;

/// <summary>
/// A real Wharf (Kestrel, SQLite file, file-system blobs) on a free loopback port, with its own data folder.
/// <see cref="RestartAsync"/> stops it and starts a new one on the same folder and port, as an operator's restart would.
/// </summary>
public sealed class WharfTestServer : IAsyncDisposable
{
    private readonly bool _ownsDataDir;
    private readonly string[] _extraArgs;
    private readonly RequestLog? _requests;
    private readonly Action<IServiceCollection>? _services;
    private WebApplication _app;

    private WharfTestServer(WebApplication app, string dataDir, bool ownsDataDir, string[] extraArgs, RequestLog? requests = null, Action<IServiceCollection>? services = null)
    {
        _requests = requests;
        _services = services;
        _app = app;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        _extraArgs = extraArgs;
        BaseUrl = WharfServer.BoundAddresses(app).First().TrimEnd('/');
        HostPort = new Uri(BaseUrl).Authority;
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string BaseUrl { get; private set; }

    /// <summary>127.0.0.1:PORT, as image references name a registry.</summary>
    public string HostPort { get; private set; }

    public string DataDir { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Every request's method and path, when started with <see cref="StartRecordingAsync"/>; null otherwise.</summary>
    public RequestLog? Requests => _requests;

    /// <summary>
    /// Starts a server in <see cref="AuthMode.Open"/> (no accounts: anyone may push and pull), as the pure-protocol
    /// tests want; extra arguments are configuration keys such as <c>--Wharf:Registry:MaxManifestBytes=2048</c>.
    /// </summary>
    public static Task<WharfTestServer> StartAsync(string? dataDir = null, params string[] extraArgs) =>
        StartAsync(AuthMode.Open, dataDir, extraArgs);

    /// <summary>Starts a server in the given auth mode (<see cref="AuthMode.Accounts"/> is what <c>wharf serve</c> runs by default).</summary>
    public static async Task<WharfTestServer> StartAsync(AuthMode mode, string? dataDir = null, params string[] extraArgs)
    {
        var owns = dataDir is null;
        dataDir ??= Directory.CreateTempSubdirectory("wharf-test-").FullName;
        string[] args = [$"--Wharf:Auth:Mode={mode}", .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args);
        return new WharfTestServer(app, dataDir, owns, args);
    }

    /// <summary>
    /// Starts a server in <see cref="AuthMode.Open"/> whose services <paramref name="services"/> may replace or decorate
    /// after Wharf's own registrations (the last registration of a service wins): for tests that watch a provider.
    /// </summary>
    public static async Task<WharfTestServer> StartWithServicesAsync(Action<IServiceCollection> services, params string[] extraArgs)
    {
        var dataDir = Directory.CreateTempSubdirectory("wharf-test-").FullName;
        string[] args = [$"--Wharf:Auth:Mode={AuthMode.Open}", .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, null, services);
        return new WharfTestServer(app, dataDir, true, args, null, services);
    }

    /// <summary>Like <see cref="StartAsync"/>, and records every request (method and path) in <see cref="Requests"/>.</summary>
    public static Task<WharfTestServer> StartRecordingAsync(params string[] extraArgs) => StartRecordingAsync(AuthMode.Open, extraArgs);

    /// <summary>Like <see cref="StartAsync(AuthMode, string?, string[])"/>, and records every request (method and path) in <see cref="Requests"/>.</summary>
    public static async Task<WharfTestServer> StartRecordingAsync(AuthMode mode, params string[] extraArgs)
    {
        var dataDir = Directory.CreateTempSubdirectory("wharf-test-").FullName;
        var requests = new RequestLog();
        string[] args = [$"--Wharf:Auth:Mode={mode}", .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, requests);
        return new WharfTestServer(app, dataDir, true, args, requests);
    }

    public HttpClient CreateClient() => new() { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Stops the server and starts a new process-equivalent on the same data folder and port.</summary>
    public async Task RestartAsync()
    {
        var url = BaseUrl;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = await StartAppAsync(DataDir, url, _extraArgs, _requests, _services);
    }

    private static Task<WebApplication> StartAppAsync(string dataDir, string url, string[] extraArgs, RequestLog? requests = null, Action<IServiceCollection>? services = null) =>
        WharfServer.StartAsync(["--urls", url, "--data-dir", dataDir, .. extraArgs], CancellationToken.None,
            builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                if (requests is not null) builder.Services.AddSingleton<IStartupFilter>(new RequestLog.Filter(requests));
            },
            services);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsDataDir)
        {
            try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
