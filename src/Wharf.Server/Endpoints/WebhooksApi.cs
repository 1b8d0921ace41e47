using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Webhooks;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1/webhooks</c>: a repository's or namespace's webhooks, managed by the namespace's owners; their recent
/// deliveries with every attempt's status and duration; redelivery.
/// </summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/webhooks").WithTags("Webhooks").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        group.MapPost("", CreateAsync).WithSummary("Add a webhook to a repository or a namespace you own");
        group.MapGet("", ListAsync).WithSummary("Webhooks of the namespaces you own");
        group.MapGet("/{id}", GetAsync).WithSummary("A webhook");
        group.MapDelete("/{id}", DeleteAsync).WithSummary("Remove a webhook");
        group.MapGet("/{id}/deliveries", DeliveriesAsync).WithSummary("A webhook's recent deliveries, each attempt with its status and duration");
        group.MapPost("/{id}/deliveries/{deliveryId}/redeliver", RedeliverAsync).WithSummary("Send a delivery again, as a new delivery");
        return app;
    }

    private static async Task<Results<Created<WebhookDto>, ProblemHttpResult>> CreateAsync(HttpContext context, WebhookService webhooks, CancellationToken ct)
    {
        var (body, error) = await ApiBody.ReadJsonAsync(context, WebhooksJson.Default.WebhookRequest);
        if (error is not null) return error;
        var result = await webhooks.CreateAsync(context.User, new NewWebhook(body!.Url, body.Secret, body.Events, body.Repository, body.Namespace, body.Format), ct);
        if (!result.IsOk) return Problem(result.Problem!);
        var created = WebhookDto.From(result.Value!);
        return TypedResults.Created($"/api/v1/webhooks/{created.Id}", created);
    }

    private static async Task<Results<Ok<WebhookListDto>, ProblemHttpResult>> ListAsync(HttpContext context, WebhookService webhooks, CancellationToken ct)
    {
        var result = await webhooks.ListAsync(context.User, ct);
        return result.IsOk ? TypedResults.Ok(new WebhookListDto(result.Value!.Select(WebhookDto.From).ToList())) : Problem(result.Problem!);
    }

    private static async Task<Results<Ok<WebhookDto>, ProblemHttpResult>> GetAsync(HttpContext context, WebhookService webhooks, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NoWebhook(id);
        var result = await webhooks.GetAsync(context.User, webhookId, ct);
        return result.IsOk ? TypedResults.Ok(WebhookDto.From(result.Value!)) : Problem(result.Problem!);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, WebhookService webhooks, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NoWebhook(id);
        var result = await webhooks.DeleteAsync(context.User, webhookId, ct);
        return result.IsOk ? TypedResults.NoContent() : Problem(result.Problem!);
    }

    private static async Task<Results<Ok<DeliveryListDto>, ProblemHttpResult>> DeliveriesAsync(HttpContext context, WebhookService webhooks, string id, string? limit, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NoWebhook(id);
        if (!ApiProblems.TryLimit(limit, out var size, out var limitError)) return limitError!;
        var result = await webhooks.DeliveriesAsync(context.User, webhookId, size ?? 20, ct);
        return result.IsOk ? TypedResults.Ok(new DeliveryListDto(result.Value!.Select(DeliveryDto.From).ToList())) : Problem(result.Problem!);
    }

    private static async Task<Results<Accepted<DeliveryDto>, ProblemHttpResult>> RedeliverAsync(
        HttpContext context, WebhookService webhooks, WebhookDispatcherWake wake, string id, string deliveryId, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NoWebhook(id);
        if (!Guid.TryParse(deliveryId, out var delivery)) return ApiProblems.NotFound($"No delivery '{deliveryId}'.");
        var result = await webhooks.RedeliverAsync(context.User, webhookId, delivery, ct);
        if (!result.IsOk) return Problem(result.Problem!);
        wake.Wake();
        var queued = DeliveryDto.From(result.Value!);
        return TypedResults.Accepted($"/api/v1/webhooks/{webhookId}/deliveries", queued);
    }

    private static ProblemHttpResult NoWebhook(string id) => ApiProblems.NotFound($"No webhook '{id}'.");

    private static ProblemHttpResult Problem(WebhookProblem problem) => problem.Kind switch
    {
        WebhookProblemKind.Invalid => ApiProblems.Invalid(problem.Message, problem.Field),
        WebhookProblemKind.Unauthorized => ApiProblems.Unauthenticated(problem.Message),
        WebhookProblemKind.Forbidden => ApiProblems.Forbidden(problem.Message),
        _ => ApiProblems.NotFound(problem.Message),
    };
}

/// <summary>Wakes the local dispatcher (a redelivery should go out now, not at the next poll).</summary>
public sealed class WebhookDispatcherWake(IServiceProvider services)
{
    public void Wake() => services.GetService<Webhooks.WebhookDispatcher>()?.Wake();
}

public sealed record WebhookRequest(string? Url, string? Secret, List<string>? Events, string? Repository, string? Namespace, string? Format);

public sealed record WebhookDto(Guid Id, string Url, IReadOnlyList<string> Events, string? Repository, string? Namespace, string Scope, string Format, string? Owner, string? Name, DateTimeOffset CreatedAt)
{
    public static WebhookDto From(Webhook w) => new(w.Id, w.Url, WebhookText.Format(w.Events),
        w.ScopeKind == WebhookScopeKind.Repository ? w.Scope : null, w.ScopeKind == WebhookScopeKind.Namespace ? w.Scope : null,
        WebhookText.Wire(w.ScopeKind), WebhookText.Wire(w.Format), w.Owner, w.Name, w.CreatedAt);
}

public sealed record WebhookListDto(IReadOnlyList<WebhookDto> Webhooks);

public sealed record AttemptDto(int Attempt, DateTimeOffset At, int? Status, long DurationMs, string? Error);

public sealed record DeliveryDto(Guid Id, Guid WebhookId, string Event, string State, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? NextAttemptAt,
    DateTimeOffset? FinishedAt, int? Status, long? DurationMs, string? Error, Guid? RedeliveryOf, IReadOnlyList<AttemptDto> AttemptLog)
{
    public static DeliveryDto From(WebhookDelivery d) => new(d.Id, d.WebhookId, d.Event, WebhookText.Wire(d.State), d.Attempts, d.CreatedAt,
        d.State == DeliveryState.Pending ? d.NextAttemptAt : null, d.FinishedAt, d.LastStatus, d.LastDurationMs, d.LastError, d.RedeliveryOf,
        d.AttemptLog.Select(a => new AttemptDto(a.Number, a.At, a.Status, a.DurationMs, a.Error)).ToList());
}

public sealed record DeliveryListDto(IReadOnlyList<DeliveryDto> Deliveries);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(WebhookDto))]
[JsonSerializable(typeof(WebhookListDto))]
[JsonSerializable(typeof(DeliveryDto))]
[JsonSerializable(typeof(DeliveryListDto))]
public sealed partial class WebhooksJson : JsonSerializerContext;
