using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Wharf.Builds;
using Wharf.Core;
using Wharf.Core.Access;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Data;
using Wharf.Server.Accounts;
using Wharf.Server.Configuration;
using Wharf.Server.Http;
using Wharf.Server.Proxy;
using Wharf.Server.Endpoints;
using Wharf.Server.Errors;
using Wharf.Server.Gc;
using Wharf.Server.Repositories;
using Wharf.Server.KeyProtection;
using Wharf.Server.Endpoints.Builds;
using Wharf.Server.Operations;
using Wharf.Server.Web;
using Wharf.Server.Webhooks;
using Wharf.Storage;

namespace Wharf.Server;

/// <summary>The composition root: configuration, providers chosen by their <c>Type</c>, endpoint groups.</summary>
public static class WharfServer
{
    /// <summary>Builds the server from command-line style arguments (<c>--urls</c>, <c>--data-dir</c>, any <c>--Wharf:…=</c> key).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="configure">Runs on the builder before Wharf's services are added.</param>
    /// <param name="overrideServices">Runs after Wharf's services are added (tests decorate a provider with it).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, Action<IServiceCollection>? overrideServices = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        // Defaults with the lowest precedence: ASP.NET Core's per-request Information lines would cost more than
        // a manifest GET itself. Any Logging:LogLevel setting (file, environment, flag) overrides them.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                // `wharf serve` prints its own start-up banner and one line for a failed start (a busy port), instead
                // of the host's "Now listening on" lines and a stack trace. A faulted background service stays Critical.
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
                ["Logging:LogLevel:Microsoft.Extensions.Hosting.Internal.Host"] = "Critical",
            },
        });
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
        {
            ["--data-dir"] = "Wharf:DataDir",
            ["--workers"] = "Wharf:Builds:Workers",
        });
        if (Environment.GetEnvironmentVariable("WHARF_DATA_DIR") is { Length: > 0 } dataDirFromEnv && builder.Configuration["Wharf:DataDir"] is null)
        {
            builder.Configuration["Wharf:DataDir"] = dataDirFromEnv;
        }
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls("http://localhost:5000");
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Every route has a body limit: this one, or its group's (BodyLimits). /v2 lifts it for blobs, which stream to
            // storage; manifests are bounded by Registry:MaxManifestBytes; build forms bound each part themselves.
            kestrel.Limits.MaxRequestBodySize = BodyLimits.Default;
            // Room for two blob chunks, so a download reads its next chunk while the previous one is on its way (BlobDownload).
            kestrel.Limits.MaxResponseBufferSize = BlobDownload.ResponseBufferSize;
        });
        AddConsoleLogging(builder.Logging, builder.Configuration);
        configure?.Invoke(builder);
        AddWharf(builder.Services, builder.Configuration);
        builder.Services.AddWharfGcSchedule();
        overrideServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseWharfRequestId();
        app.UseWharfForwardedHeaders();
        app.UseWharfErrors();
        app.UseWharfMetrics();
        app.UseWharfAccounts();
        app.UseWharfWebSessions();
        app.UseApiWriteGuard();
        app.MapDistributionApi();
        app.MapAccountsApi();
        app.MapUserAdministrationApi();
        app.MapRepositoriesApi();
        app.MapSearchApi();
        app.MapBuildsApi();
        app.MapGcApi();
        app.MapNamespacesApi();
        app.MapLegacyBuildApi();
        app.MapWebhooksApi();
        app.MapApiDocument();
        app.MapWebUi();
        app.MapWharfHealth();
        return app;
    }

    /// <summary>
    /// The console logger with all the framework's formatters (the slim builder brings only the simple one), so
    /// <c>Logging:Console:FormatterName=json</c> writes one JSON object per line. JSON lines carry their scopes (the
    /// request id among them) and a UTC timestamp unless <c>Logging:Console:FormatterOptions</c> says otherwise.
    /// </summary>
    private static void AddConsoleLogging(ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.Services.Configure<Microsoft.Extensions.Logging.Console.JsonConsoleFormatterOptions>(json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        logging.AddConsole();
        // The slim builder pins FormatterName to "simple" after reading configuration: read it again.
        if (configuration["Logging:Console:FormatterName"] is { Length: > 0 } formatter)
        {
            logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(console => console.FormatterName = formatter);
        }
    }

    /// <summary>Registers Wharf's services from configuration; throws <see cref="WharfConfigurationException"/> on an invalid value.</summary>
    public static void AddWharf(IServiceCollection services, IConfiguration configuration)
    {
        var wharf = configuration.GetSection(WharfOptions.Section).Get<WharfOptions>() ?? new WharfOptions();
        var dataDir = Path.GetFullPath(wharf.DataDir);
        var registry = configuration.GetSection($"{WharfOptions.Section}:{RegistryOptions.Section}").Get<RegistryOptions>() ?? new RegistryOptions();
        var errors = registry.Validate().ToList();
        errors.AddRange(services.AddWharfStorage(configuration, dataDir));
        errors.AddRange(services.AddWharfData(configuration, dataDir));
        errors.AddRange(services.AddWharfForwardedHeaders(configuration));
        errors.AddRange(services.AddWharfOperations(configuration));
        errors.AddRange(services.AddWharfWebhooks(configuration));
        if (errors.Count > 0) throw new WharfConfigurationException(errors);
        // The data folder holds the database, blobs, sources and keys: the server's user alone may enter it.
        OwnerOnlyFiles.CreateDirectory(dataDir);
        services.AddWharfSecrets(configuration, dataDir);
        if (services.AddWharfBuilds(configuration, dataDir) is { Count: > 0 } buildProblems) throw new WharfConfigurationException(buildProblems);

        services.AddWharfApiPipeline();
        services.AddSingleton(registry);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<RegistryEvents>();
        services.AddSingleton<ManifestCache>();
        services.AddSingleton<RegistryService>();
        services.AddSingleton<BlobService>();
        services.AddWharfAccounts(configuration, dataDir);
        if (services.AddWharfProxy(configuration, dataDir) is { Count: > 0 } proxyProblems) throw new WharfConfigurationException(proxyProblems);
        services.AddWharfRepositories(configuration);
        services.AddWharfWebUi();
        services.AddWharfGc(configuration);
    }

    /// <summary>Builds the server, applies pending migrations (the embedded default does this on start) and starts listening.</summary>
    public static async Task<WebApplication> StartAsync(string[] args, CancellationToken cancellationToken, Action<WebApplicationBuilder>? configure = null, Action<IServiceCollection>? overrideServices = null)
    {
        var app = Build(args, configure, overrideServices);
        try
        {
            await CheckReadinessAsync(app.Services, cancellationToken);
            await PrepareDatabaseAsync(app.Services, cancellationToken);
            await app.StartAsync(cancellationToken);
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs every provider's health check tagged <see cref="HealthTags.Startup"/> (the bucket answers with these keys, …)
    /// before anything listens, each with its own bound rather than <c>/readyz</c>'s short one: a wrong secret, a missing
    /// bucket or an unreachable server stops start-up with one line naming the provider and the problem.
    /// </summary>
    /// <exception cref="ProviderUnavailableException">A provider's start-up check failed.</exception>
    public static async Task CheckReadinessAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var registrations = services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        foreach (var registration in registrations.Where(r => r.Tags.Contains(HealthTags.Startup)))
        {
            var check = registration.Factory(services);
            var result = await check.CheckHealthAsync(new HealthCheckContext { Registration = registration }, cancellationToken);
            if (result.Status != HealthStatus.Healthy)
            {
                var provider = registration.Tags.FirstOrDefault(t => t.StartsWith(HealthTags.ProviderPrefix, StringComparison.Ordinal))?[HealthTags.ProviderPrefix.Length..];
                problems.Add($"{registration.Name}{(provider is null ? "" : $" ({provider})")}: {result.Description ?? result.Exception?.Message}");
            }
        }
        if (problems.Count > 0) throw new ProviderUnavailableException(problems);
    }

    /// <summary>Applies pending metadata migrations (<c>wharf migrate</c>); returns how many it applied.</summary>
    public static Task<int> MigrateAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetRequiredService<IMetadataMigrator>().MigrateAsync(cancellationToken);

    /// <summary>
    /// What <c>serve</c> and <c>worker</c> do with the schema before they start: apply pending migrations when
    /// <c>Wharf:Database:MigrateOnStart</c> says so (the SQLite default), otherwise only check that none is pending
    /// (the PostgreSQL default: <c>wharf migrate</c> runs them once, not every node at once). Returns how many it applied.
    /// </summary>
    /// <exception cref="MetadataStoreUnavailableException">The database can't be reached, or its schema is behind.</exception>
    public static async Task<int> PrepareDatabaseAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<DatabaseOptions>();
        var migrator = services.GetRequiredService<IMetadataMigrator>();
        var applied = 0;
        if (options.ShouldMigrateOnStart) applied = await migrator.MigrateAsync(cancellationToken);
        else
        {
            var pending = await migrator.PendingAsync(cancellationToken);
            if (pending.Count > 0)
            {
                throw new MetadataStoreUnavailableException(
                    $"The database schema is behind this version of Wharf: {pending.Count} migration{(pending.Count == 1 ? " is" : "s are")} pending " +
                    $"({string.Join(", ", pending)}). Run `wharf migrate` once with the same configuration, then start the nodes " +
                    "(or set Wharf:Database:MigrateOnStart=true on a single node).");
            }
        }
        // The installation's keys live in the database: load (or create) them now, so a key that cannot be read stops
        // start-up with its message instead of failing the first request.
        services.GetService<TokenSigningKey>();
        return applied;
    }

    /// <summary>The addresses Kestrel actually bound (useful with port 0).</summary>
    public static IReadOnlyCollection<string> BoundAddresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
}

/// <summary>
/// Start-up stopped because a provider's start-up check failed (the bucket refused the keys, does not exist, does not
/// answer): one line, each problem as "name (provider): what is wrong and which setting to fix".
/// </summary>
public sealed class ProviderUnavailableException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems.Select(p => p.ReplaceLineEndings(" "))))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Start-up stopped because configuration values are invalid.</summary>
public sealed class WharfConfigurationException(IReadOnlyList<string> problems)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
