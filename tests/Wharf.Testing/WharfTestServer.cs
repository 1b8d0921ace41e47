using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Core.Accounts;
using Wharf.Server;
using Wharf.Testing.Services;

namespace Wharf.Testing;

/// <summary>The metadata store a test server runs on.</summary>
public enum WharfTestDatabase
{
    /// <summary>A SQLite file in the server's data folder (the embedded default).</summary>
    Sqlite,

    /// <summary>A database of its own on the shared test PostgreSQL (<see cref="PostgresService"/>).</summary>
    PostgreSql,
}

/// <summary>
/// The providers a test server runs on. A suite that runs on several derives a class per provider set and overrides
/// the one it starts with; the blob store joins as another member when it has a second provider.
/// </summary>
public sealed record WharfTestProviders(WharfTestDatabase Database)
{
    /// <summary>SQLite and the file system: what <c>wharf serve</c> runs by default.</summary>
    public static WharfTestProviders Default { get; } = new(WharfTestDatabase.Sqlite);

    /// <summary>PostgreSQL for metadata.</summary>
    public static WharfTestProviders PostgreSql { get; } = new(WharfTestDatabase.PostgreSql);

    public override string ToString() => Database.ToString();
}

/// <summary>
/// A real Wharf (Kestrel, SQLite file or PostgreSQL database, file-system blobs) on a free loopback port, with its own
/// data folder. <see cref="RestartAsync"/> stops it and starts a new one on the same folder, database and port, as an
/// operator's restart would; <see cref="StartAnotherNodeAsync"/> starts a second node on the same stores.
/// </summary>
public sealed class WharfTestServer : IAsyncDisposable
{
    private readonly bool _ownsDataDir;
    private readonly PostgresTestDatabase? _database;
    private readonly string? _buildTemp;
    private readonly string[] _extraArgs;
    private readonly RequestLog? _requests;
    private readonly Action<WebApplicationBuilder>? _configure;
    private readonly Action<IServiceCollection>? _services;
    private WebApplication _app;

    private WharfTestServer(WebApplication app, string dataDir, bool ownsDataDir, string[] extraArgs, RequestLog? requests = null,
        Action<IServiceCollection>? services = null, Action<WebApplicationBuilder>? configure = null, PostgresTestDatabase? database = null)
    {
        _database = database;
        _buildTemp = BuildTempOf(extraArgs);
        _requests = requests;
        _services = services;
        _configure = configure;
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
    public static Task<WharfTestServer> StartAsync(AuthMode mode, string? dataDir = null, params string[] extraArgs) =>
        StartAsync(mode, dataDir, extraArgs, null);

    /// <summary>
    /// Like <see cref="StartAsync(AuthMode, string?, string[])"/>, with <paramref name="configure"/> run on the builder before
    /// Wharf adds its services (and again on a restart): a test registers a <c>FakeTimeProvider</c> or a startup filter there.
    /// </summary>
    public static async Task<WharfTestServer> StartAsync(AuthMode mode, string? dataDir, string[] extraArgs, Action<WebApplicationBuilder>? configure)
    {
        var owns = dataDir is null;
        dataDir ??= Directory.CreateTempSubdirectory("wharf-test-").FullName;
        string[] args = [$"--Wharf:Auth:Mode={mode}", BuildTempArgument(), .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, null, null, configure);
        return new WharfTestServer(app, dataDir, owns, args, null, null, configure);
    }

    /// <summary>Starts a server in the given auth mode on the given providers.</summary>
    public static Task<WharfTestServer> StartOnAsync(WharfTestProviders providers, AuthMode mode, params string[] extraArgs) =>
        StartCoreAsync(mode, providers, extraArgs, null);

    /// <summary>
    /// Like <see cref="StartWithServicesAsync(Action{IServiceCollection}, string[])"/> on the given providers and auth mode:
    /// <paramref name="services"/> may replace or decorate Wharf's registrations.
    /// </summary>
    public static Task<WharfTestServer> StartWithServicesAsync(AuthMode mode, WharfTestProviders providers, Action<IServiceCollection> services, params string[] extraArgs) =>
        StartCoreAsync(mode, providers, extraArgs, services);

    private static async Task<WharfTestServer> StartCoreAsync(AuthMode mode, WharfTestProviders providers, string[] extraArgs, Action<IServiceCollection>? services)
    {
        ArgumentNullException.ThrowIfNull(providers);
        var database = providers.Database == WharfTestDatabase.PostgreSql ? await PostgresService.CreateDatabaseAsync(migrated: true) : null;
        var dataDir = Directory.CreateTempSubdirectory("wharf-test-").FullName;
        try
        {
            string[] args = [$"--Wharf:Auth:Mode={mode}", BuildTempArgument(), .. database is null ? [] : PostgreSqlArgs(database), .. extraArgs];
            var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, null, services);
            return new WharfTestServer(app, dataDir, true, args, null, services, null, database);
        }
        catch
        {
            if (database is not null) await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts a second node on this server's metadata database (and, for now, its data folder: blobs and build sources
    /// stay on a node's disk until the blob store has a shared provider), as a scale-out set's next node. The caller
    /// disposes it; the database stays this server's.
    /// </summary>
    public Task<WharfTestServer> StartAnotherNodeAsync(params string[] extraArgs) => StartAnotherNodeAsync(null, extraArgs);

    /// <summary>Like <see cref="StartAnotherNodeAsync(string[])"/>, with the node's own service overrides.</summary>
    public async Task<WharfTestServer> StartAnotherNodeAsync(Action<IServiceCollection>? services, params string[] extraArgs)
    {
        if (_database is null) throw new InvalidOperationException("Only a server on PostgreSQL has other nodes.");
        string[] args = [.. _extraArgs, .. extraArgs];
        var app = await StartAppAsync(DataDir, "http://127.0.0.1:0", args, null, services);
        return new WharfTestServer(app, DataDir, false, args, null, services);
    }

    /// <summary>
    /// Starts another node on this server's metadata database with a data folder of its own, as a node on another machine
    /// would have: whatever it finds there is its alone. The caller disposes it (its folder goes with it).
    /// </summary>
    public async Task<WharfTestServer> StartAnotherNodeWithOwnDataFolderAsync(params string[] extraArgs)
    {
        if (_database is null) throw new InvalidOperationException("Only a server on PostgreSQL has other nodes.");
        var dataDir = Directory.CreateTempSubdirectory("wharf-test-").FullName;
        string[] args = [.. _extraArgs.Where(a => !a.StartsWith("--Wharf:Builds:TempPath=", StringComparison.Ordinal)), BuildTempArgument(), .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, null, null);
        return new WharfTestServer(app, dataDir, true, args);
    }

    private static string[] PostgreSqlArgs(PostgresTestDatabase database) =>
    [
        "--Wharf:Database:Type=PostgreSql",
        $"--Wharf:Database:ConnectionString={database.ConnectionString}",
        // Tests start one node at a time on a new database: it migrates, as the embedded default does.
        "--Wharf:Database:MigrateOnStart=true",
    ];

    /// <summary>
    /// Starts a server in <see cref="AuthMode.Open"/> whose services <paramref name="services"/> may replace or decorate
    /// after Wharf's own registrations (the last registration of a service wins): for tests that watch a provider.
    /// </summary>
    public static async Task<WharfTestServer> StartWithServicesAsync(Action<IServiceCollection> services, params string[] extraArgs)
    {
        var dataDir = Directory.CreateTempSubdirectory("wharf-test-").FullName;
        string[] args = [$"--Wharf:Auth:Mode={AuthMode.Open}", BuildTempArgument(), .. extraArgs];
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
        string[] args = [$"--Wharf:Auth:Mode={mode}", BuildTempArgument(), .. extraArgs];
        var app = await StartAppAsync(dataDir, "http://127.0.0.1:0", args, requests);
        return new WharfTestServer(app, dataDir, true, args, requests);
    }

    /// <summary>
    /// Builds keep their engine's temporary files outside the data folder (its 0700 mode bars a build's user namespace);
    /// each test server gets its own such folder, removed with it, instead of one under /var/tmp per data folder.
    /// </summary>
    private static string BuildTempArgument() => "--Wharf:Builds:TempPath=" + System.IO.Path.Combine("/tmp", "wharf-bt-" + Guid.NewGuid().ToString("N")[..12]);

    private static string? BuildTempOf(string[] args) =>
        args.LastOrDefault(a => a.StartsWith("--Wharf:Builds:TempPath=", StringComparison.Ordinal))?["--Wharf:Builds:TempPath=".Length..];

    public HttpClient CreateClient() => new() { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Stops the server and starts a new process-equivalent on the same data folder and port.</summary>
    public async Task RestartAsync()
    {
        var url = BaseUrl;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = await StartAppAsync(DataDir, url, _extraArgs, _requests, _services, _configure);
    }

    private static Task<WebApplication> StartAppAsync(string dataDir, string url, string[] extraArgs, RequestLog? requests = null,
        Action<IServiceCollection>? services = null, Action<WebApplicationBuilder>? configure = null) =>
        WharfServer.StartAsync(["--urls", url, "--data-dir", dataDir, .. extraArgs], CancellationToken.None,
            builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                if (requests is not null) builder.Services.AddSingleton<IStartupFilter>(new RequestLog.Filter(requests));
                configure?.Invoke(builder);
            },
            services);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
        if (_ownsDataDir)
        {
            try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        try { if (_buildTemp is not null && Directory.Exists(_buildTemp)) Directory.Delete(_buildTemp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
