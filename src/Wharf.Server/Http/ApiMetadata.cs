namespace Wharf.Server.Http;

/// <summary>OpenAPI metadata every <c>/api</c> group shares.</summary>
public static class ApiMetadata
{
    /// <summary>The problem statuses any <c>/api</c> route may answer (each described in the OpenAPI document as problem details).</summary>
    public static TBuilder ProducesApiProblems<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in new[] { 400, 401, 403, 404, 409, 413, 415, 429 }) builder.ProducesProblem(status);
        return builder;
    }
}
