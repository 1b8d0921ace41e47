using System.Text.Json.Serialization;
using Wharf.Core.Webhooks;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1/webhooks</c>: a repository's or namespace's webhooks, managed by the namespace's owners; their recent
/// deliveries with every attempt's status and duration; redelivery.
/// </summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/webhooks");
        group.MapPost("", CreateAsync);
        group.MapGet("", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", DeleteAsync);
        group.MapGet("/{id}/deliveries", DeliveriesAsync);
        group.MapPost("/{id}/deliveries/{deliveryId}/redeliver", RedeliverAsync);
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpContext context, WebhookService webhooks, CancellationToken ct)
    {
        var (body, error) = await ApiProblems.ReadJsonAsync(context.Request, WebhooksJson.Default.WebhookRequest, ct);
        if (error is not null) return error;
        var result = await webhooks.CreateAsync(context.User, new NewWebhook(body!.Url, body.Secret, body.Events, body.Repository, body.Namespace, body.Format), ct);
        return result.IsOk
            ? TypedResults.Json(WebhookDto.From(result.Value!), WebhooksJson.Default.WebhookDto, statusCode: StatusCodes.Status201Created)
            : Problem(result.Problem!);
    }

    private static async Task<IResult> ListAsync(HttpContext context, WebhookService webhooks, CancellationToken ct)
    {
        var result = await webhooks.ListAsync(context.User, ct);
        return result.IsOk
            ? TypedResults.Json(new WebhookListDto(result.Value!.Select(WebhookDto.From).ToList()), WebhooksJson.Default.WebhookListDto)
            : Problem(result.Problem!);
    }

    private static async Task<IResult> GetAsync(HttpContext context, WebhookService webhooks, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NotFound(id);
        var result = await webhooks.GetAsync(context.User, webhookId, ct);
        return result.IsOk ? TypedResults.Json(WebhookDto.From(result.Value!), WebhooksJson.Default.WebhookDto) : Problem(result.Problem!);
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, WebhookService webhooks, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NotFound(id);
        var result = await webhooks.DeleteAsync(context.User, webhookId, ct);
        return result.IsOk ? TypedResults.NoContent() : Problem(result.Problem!);
    }

    private static async Task<IResult> DeliveriesAsync(HttpContext context, WebhookService webhooks, string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NotFound(id);
        if (!ApiProblems.TryLimit(context.Request.Query["limit"], out var limit, out var limitError)) return limitError!;
        var result = await webhooks.DeliveriesAsync(context.User, webhookId, limit ?? 20, ct);
        return result.IsOk
            ? TypedResults.Json(new DeliveryListDto(result.Value!.Select(DeliveryDto.From).ToList()), WebhooksJson.Default.DeliveryListDto)
            : Problem(result.Problem!);
    }

    private static async Task<IResult> RedeliverAsync(HttpContext context, WebhookService webhooks, WebhookDispatcherWake wake, string id, string deliveryId, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NotFound(id);
        if (!Guid.TryParse(deliveryId, out var delivery)) return TypedResults.Problem($"No delivery '{deliveryId}'.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
        var result = await webhooks.RedeliverAsync(context.User, webhookId, delivery, ct);
        if (!result.IsOk) return Problem(result.Problem!);
        wake.Wake();
        return TypedResults.Json(DeliveryDto.From(result.Value!), WebhooksJson.Default.DeliveryDto, statusCode: StatusCodes.Status202Accepted);
    }

    private static IResult NotFound(string id) => TypedResults.Problem($"No webhook '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static IResult Problem(WebhookProblem problem) => problem.Kind switch
    {
        WebhookProblemKind.Invalid => TypedResults.Problem(problem.Message, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request",
            extensions: problem.Field is null ? null : new Dictionary<string, object?> { ["field"] = problem.Field }),
        WebhookProblemKind.Unauthorized => TypedResults.Problem(problem.Message, statusCode: StatusCodes.Status401Unauthorized, title: "Authentication required"),
        WebhookProblemKind.Forbidden => TypedResults.Problem(problem.Message, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden"),
        _ => TypedResults.Problem(problem.Message, statusCode: StatusCodes.Status404NotFound, title: "Not found"),
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
