using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Core.Webhooks;
using Wharf.Data.Sqlite;
using Wharf.Server.Endpoints;

namespace Wharf.Server.Webhooks;

public static class WebhooksServiceCollectionExtensions
{
    /// <summary>
    /// Webhooks from <c>Wharf:Webhooks</c>: the service behind <c>/api/v1/webhooks</c>, the target allow-list, the
    /// sender and the dispatcher (a hosted service). The store and the outbox come from the metadata provider.
    /// Returns configuration problems.
    /// </summary>
    public static IReadOnlyList<string> AddWharfWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(WebhookOptions.Section).Get<WebhookOptions>() ?? new WebhookOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0) return problems;
        services.AddSingleton(options);
        services.AddSingleton<WebhookTargets>();
        services.TryAddSingleton(sp => WebhookSources.For(configuration));
        services.AddSingleton<WebhookService>(sp => new WebhookService(
            sp.GetRequiredService<IWebhookStore>(), sp.GetRequiredService<WebhookTargets>(), sp.GetRequiredService<Core.Builds.ISecretProtector>(),
            sp.GetRequiredService<Core.Accounts.AuthOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<Core.Accounts.RepositoryPermissions>()));
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        services.AddSingleton<WebhookDispatcherWake>();
        return [];
    }
}

/// <summary>This node as the reference envelope's <c>source</c> names it.</summary>
public static class WebhookSources
{
    private static readonly string InstanceId = Guid.NewGuid().ToString("D");

    public static WebhookSource For(IConfiguration configuration)
    {
        var url = (configuration["urls"] ?? "http://localhost:5000").Split(';')[0];
        var port = Uri.TryCreate(url.Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri) ? uri.Port : 5000;
        var baseUrl = configuration["Wharf:Webhooks:BaseUrl"] ?? uri?.GetLeftPart(UriPartial.Authority);
        return new WebhookSource($"{Environment.MachineName}:{port}", InstanceId, baseUrl);
    }
}
