using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Server.Endpoints;
using Wharf.Server.Endpoints.Builds;
using Wharf.Server.Errors;
using Wharf.Server.Repositories;

namespace Wharf.Server.Http;

/// <summary>
/// The error and body pipeline every surface shares: problem details (<c>AddProblemDetails</c>), one exception
/// handler that answers in each surface's shape (<see cref="WharfExceptionHandler"/>), unknown <c>/api</c> routes and
/// bare statuses as problem details, one JSON configuration for <c>/api</c> results, body limits per endpoint group
/// (<see cref="BodyLimits"/>) and, in accounts mode, no anonymous writes on <c>/api</c> (<see cref="RequireOwnerForApiWrites"/>).
/// </summary>
public static class ApiPipeline
{
    public static IServiceCollection AddWharfApiPipeline(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = problem =>
            problem.ProblemDetails.Instance ??= problem.HttpContext.Request.Path);
        services.AddExceptionHandler<WharfExceptionHandler>();
        services.ConfigureHttpJsonOptions(options => ConfigureJson(options.SerializerOptions));
        // The REST API's own document: /api routes only (the registry and token endpoints follow their specifications).
        services.AddOpenApi(options =>
        {
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Wharf REST API";
                document.Info.Description = "Repositories, search, accounts, tokens, organizations, builds, registry credentials and webhooks. "
                    + "Authenticate with Basic credentials (user name with password or personal access token) or a bearer token; errors are RFC 7807 problem details.";
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>The OpenAPI document of <c>/api/v1</c>, generated from the endpoints, at <c>/api/v1/openapi.json</c>.</summary>
    public static IEndpointRouteBuilder MapApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi("/api/v1/openapi.json");
        return app;
    }

    /// <summary>
    /// The JSON of <c>/api</c>: snake_case names, nulls written (absent only where a property says so), strict numbers,
    /// and the source-generated contexts of every endpoint group first.
    /// </summary>
    public static void ConfigureJson(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.TypeInfoResolverChain.Insert(0, AccountsJsonContext.Default);
        options.TypeInfoResolverChain.Insert(1, RepositoriesJson.Default);
        options.TypeInfoResolverChain.Insert(2, BuildsJsonContext.Default);
        options.TypeInfoResolverChain.Insert(3, WebhooksJson.Default);
        options.TypeInfoResolverChain.Insert(4, GcJson.Default);
    }

    /// <summary>Exception handler and problem details for bare error statuses under <c>/api</c>; goes first in the pipeline.</summary>
    public static IApplicationBuilder UseWharfErrors(this IApplicationBuilder app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages(ApiStatusPageAsync);
        return app;
    }

    /// <summary>After authentication: refuses anonymous writes to <c>/api</c> before their body is read (accounts mode).</summary>
    public static IApplicationBuilder UseApiWriteGuard(this IApplicationBuilder app)
    {
        if (app.ApplicationServices.GetRequiredService<AuthOptions>().Mode != AuthMode.Accounts) return app;
        return app.UseMiddleware<RequireOwnerForApiWrites>();
    }

    /// <summary>A 4xx or 5xx under <c>/api</c> that nothing wrote a body for (no such route, a method the route does not take) gets one.</summary>
    private static async Task ApiStatusPageAsync(StatusCodeContext status)
    {
        var context = status.HttpContext;
        if (!ErrorSurfaces.IsApi(context.Request.Path)) return;
        var code = context.Response.StatusCode;
        var detail = code switch
        {
            StatusCodes.Status404NotFound => $"No such route: {context.Request.Method} {context.Request.Path}. The routes are listed in /api/v1/openapi.json.",
            StatusCodes.Status405MethodNotAllowed => $"{context.Request.Method} is not allowed on {context.Request.Path}.",
            _ => $"The server answered {code}.",
        };
        await ApiProblems.Status(code, detail).ExecuteAsync(context);
    }
}

/// <summary>
/// Accounts mode: every write under <c>/api</c> (any method but GET, HEAD and OPTIONS) needs a signed-in caller, and
/// is refused with 401 before its body is read. Routes marked <c>AllowAnonymous()</c> (sign-up) are the exception.
/// Unknown routes and methods a route does not take pass on, to be answered 404 and 405.
/// </summary>
public sealed class RequireOwnerForApiWrites(RequestDelegate next, AuthOptions options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!ErrorSurfaces.IsApi(request.Path) || HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
            || context.GetEndpoint() is not { } endpoint
            || endpoint.Metadata.GetMetadata<IHttpMethodMetadata>() is not { } methods || !methods.HttpMethods.Contains(request.Method, StringComparer.OrdinalIgnoreCase)
            || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null
            || context.User.Username() is not null)
        {
            return next(context);
        }
        context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{options.Service}\"";
        return ApiProblems.Unauthenticated("Sign in to change anything here: send Basic credentials (user name with password or personal access token) or a bearer token.")
            .ExecuteAsync(context);
    }
}
