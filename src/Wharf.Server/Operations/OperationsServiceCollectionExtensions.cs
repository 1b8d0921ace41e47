using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Wharf.Core.Telemetry;

namespace Wharf.Server.Operations;

public static class OperationsServiceCollectionExtensions
{
    /// <summary>The meters exported at <c>/metrics</c>: ASP.NET Core's and Kestrel's, the runtime's, and Wharf's.</summary>
    public static readonly string[] ExportedMeters =
    [
        WharfMetrics.MeterName,
        Proxy.ProxyMetrics.MeterName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Diagnostics",
        "System.Runtime",
    ];

    /// <summary>
    /// Registers what operators use: Wharf's meters (<see cref="WharfMetrics"/>, always, recording nothing unless
    /// exported), the Prometheus exporter from <c>Wharf:Metrics</c>, and the health check service from
    /// <c>Wharf:Health</c> (each provider adds its own readiness check). Returns configuration problems.
    /// </summary>
    public static IReadOnlyList<string> AddWharfOperations(this IServiceCollection services, IConfiguration configuration)
    {
        var metrics = configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        var health = configuration.GetSection(HealthOptions.Section).Get<HealthOptions>() ?? new HealthOptions();
        var problems = metrics.Validate().Concat(health.Validate()).ToList();
        if (problems.Count > 0) return problems;

        services.AddSingleton(metrics);
        services.AddSingleton(health);
        services.AddMetrics();
        services.TryAddSingleton<WharfMetrics>();
        services.AddSingleton<BuildQueueGauges>();
        services.AddSingleton<MetricsAccess>();
        services.AddHealthChecks();
        services.PostConfigure<HealthCheckServiceOptions>(options =>
        {
            foreach (var registration in options.Registrations) registration.Timeout = health.Timeout;
        });
        if (metrics.Enabled)
        {
            services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService("wharf"))
                .WithMetrics(builder => builder
                    .AddMeter(ExportedMeters)
                    .AddPrometheusExporter(exporter => exporter.ScrapeResponseCacheDurationMilliseconds = 0));
            // Meters made by another host's IMeterFactory (a second server in the same process, as in tests) share
            // names with ours: report only this host's, and the process-wide runtime meter.
            services.ConfigureOpenTelemetryMeterProvider((provider, builder) =>
            {
                var factory = provider.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument => instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, factory)
                    ? null
                    : MetricStreamConfiguration.Drop);
            });
        }
        return [];
    }
}
