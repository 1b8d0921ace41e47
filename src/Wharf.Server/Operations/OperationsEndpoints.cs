using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core;
using Wharf.Core.Webhooks;

namespace Wharf.Server.Operations;

/// <summary>The operators' surface: the request id header, <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c>.</summary>
public static class OperationsEndpoints
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>
    /// Every response carries <c>X-Request-Id</c>: the request's <see cref="HttpContext.TraceIdentifier"/>, which
    /// ASP.NET Core also puts in the logging scope of every line written for the request (<c>RequestId</c>). Requests
    /// other than GET and HEAD also set <see cref="ChangeRequest.Current"/> for the webhook outbox.
    /// </summary>
    public static IApplicationBuilder UseWharfRequestId(this IApplicationBuilder app) =>
        app.Use(static (context, next) =>
        {
            context.Response.Headers[RequestIdHeader] = context.TraceIdentifier;
            var request = context.Request;
            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                // Only requests that may change something pay for this: the webhook envelope reports who asked.
                var remote = context.Connection.RemoteIpAddress is { } address ? $"{address}:{context.Connection.RemotePort}" : null;
                ChangeRequest.Current = new ChangeRequest(context.TraceIdentifier, remote, request.Host.Value, request.Method, request.Headers.UserAgent.ToString());
            }
            return next(context);
        });

    /// <summary>
    /// <c>GET /metrics</c> in the Prometheus text format when <c>Wharf:Metrics:Enabled</c>; limited to
    /// <c>AllowedNetworks</c> and to <c>Token</c> when set. Placed before authentication: its token is not a Wharf credential.
    /// </summary>
    public static IApplicationBuilder UseWharfMetrics(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<MetricsOptions>();
        if (!options.Enabled) return app;
        return app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: static context => context.Request.Path == "/metrics",
            path: null,
            configureBranchedPipeline: branch => branch.Use(static async (context, next) =>
            {
                if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
                {
                    context.Response.Headers.Allow = "GET, HEAD";
                    await WritePlainAsync(context, StatusCodes.Status405MethodNotAllowed, "Only GET is supported on /metrics.");
                    return;
                }
                if (context.RequestServices.GetRequiredService<MetricsAccess>().Refuse(context) is { } status)
                {
                    if (status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer realm=\"metrics\"";
                    await WritePlainAsync(context, status, status == StatusCodes.Status401Unauthorized
                        ? "Scraping /metrics needs the token set in Wharf:Metrics:Token (Authorization: Bearer …)."
                        : "Scraping /metrics is not allowed from this address (Wharf:Metrics:AllowedNetworks).");
                    return;
                }
                await context.RequestServices.GetRequiredService<BuildQueueGauges>().RefreshAsync(context.RequestAborted);
                await next(context);
            }),
            optionsName: null);
    }

    /// <summary><c>/healthz</c>: the process answers. <c>/readyz</c>: every provider's check (tag <c>ready</c>), 503 naming the failing ones.</summary>
    public static IEndpointRouteBuilder MapWharfHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = static _ => false, ResponseWriter = WriteReportAsync })
            .WithDisplayName("liveness");
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = static r => r.Tags.Contains(HealthTags.Ready), ResponseWriter = WriteReportAsync })
            .WithDisplayName("readiness");
        return app;
    }

    /// <summary>
    /// <c>{"status":"unhealthy","failing":["database"],"checks":{"database":{"status":"unhealthy","provider":"sqlite",
    /// "duration_ms":3.1,"description":"…"},…}}</c>; the status code (200 or 503) is set by the framework.
    /// </summary>
    private static async Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("status", Word(report.Status));
        writer.WriteStartArray("failing");
        foreach (var (name, entry) in report.Entries)
        {
            if (entry.Status != HealthStatus.Healthy) writer.WriteStringValue(name);
        }
        writer.WriteEndArray();
        writer.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            writer.WriteStartObject(name);
            writer.WriteString("status", Word(entry.Status));
            foreach (var tag in entry.Tags)
            {
                if (tag.StartsWith(HealthTags.ProviderPrefix, StringComparison.Ordinal)) writer.WriteString("provider", tag[HealthTags.ProviderPrefix.Length..]);
            }
            writer.WriteNumber("duration_ms", Math.Round(entry.Duration.TotalMilliseconds, 1));
            var description = entry.Description ?? (entry.Exception is { } e ? e.Message : null);
            if (description is not null) writer.WriteString("description", description);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private static string Word(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    private static async Task WritePlainAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }
}
