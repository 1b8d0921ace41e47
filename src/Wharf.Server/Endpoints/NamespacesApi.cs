using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Policies;
using Wharf.Server.Errors;
using Wharf.Server.Http;
using Wharf.Server.Repositories;

namespace Wharf.Server.Endpoints;

/// <summary>
/// <c>/api/v1/namespaces/{namespace}</c>: <c>PUT quota</c> <c>{"bytes"}</c> (administrators), <c>GET quota</c> and
/// <c>GET usage</c> (members of the namespace and administrators): the quota and the bytes of the distinct blobs that the
/// namespace's manifests reference. A push that would pass the quota is refused with <c>DENIED</c>.
/// </summary>
public static class NamespacesApi
{
    public static IEndpointRouteBuilder MapNamespacesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/namespaces").WithTags("Namespaces").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        group.MapPut("/{namespace}/quota", SetQuotaAsync).WithSummary("Set or remove a namespace's storage quota (administrators)");
        group.MapGet("/{namespace}/quota", GetAsync).WithSummary("A namespace's storage quota and usage");
        group.MapGet("/{namespace}/usage", GetAsync).WithSummary("A namespace's storage quota and usage");
        return app;
    }

    private static async Task<Results<Ok<UsageResponse>, ProblemHttpResult>> SetQuotaAsync(HttpContext context, PolicyService policies, string @namespace, CancellationToken ct)
    {
        var (body, problem) = await ApiBody.ReadJsonAsync(context, RepositoriesJson.Default.QuotaRequest);
        if (problem is not null) return problem;
        var result = await policies.SetQuotaAsync(context.User, @namespace, body!.Bytes, ct);
        return result.IsOk ? TypedResults.Ok(ToResponse(result.Value!)) : ApiProblems.From(result.Error!);
    }

    private static async Task<Results<Ok<UsageResponse>, ProblemHttpResult>> GetAsync(HttpContext context, PolicyService policies, string @namespace, CancellationToken ct)
    {
        var result = await policies.GetUsageAsync(context.User, @namespace, ct);
        return result.IsOk ? TypedResults.Ok(ToResponse(result.Value!)) : ApiProblems.From(result.Error!);
    }

    private static UsageResponse ToResponse(NamespaceUsage usage) => new(usage.Namespace, usage.QuotaBytes, usage.UsedBytes, usage.Blobs, usage.Repositories);
}
