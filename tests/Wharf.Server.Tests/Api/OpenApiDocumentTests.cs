using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Api;

/// <summary><c>/api/v1/openapi.json</c>: generated from the endpoints, and complete: a route added without OpenAPI metadata fails here.</summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private WharfTestServer _server = null!;
    private JsonElement _document;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts);
        using var http = _server.CreateClient();
        using var response = await http.GetAsync("api/v1/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        _document = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void Every_api_v1_route_of_the_running_server_is_in_the_document()
    {
        var paths = _document.GetProperty("paths");
        var routes = _server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1", StringComparison.Ordinal) == true && e.RoutePattern.RawText != "/api/v1/openapi.json")
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Path: OpenApiPath(e.RoutePattern.RawText!), Method: m.ToLowerInvariant())))
            .ToList();
        Assert.True(routes.Count >= 25, $"only {routes.Count} routes found");
        var missing = routes.Where(r => !paths.TryGetProperty(r.Path, out var item) || !item.TryGetProperty(r.Method, out _)).ToList();
        Assert.True(missing.Count == 0, "not in the OpenAPI document: " + string.Join(", ", missing.Select(m => $"{m.Method.ToUpperInvariant()} {m.Path}")));
    }

    [Fact]
    public void Answers_and_problems_are_described_with_their_schemas()
    {
        var signUp = _document.GetProperty("paths").GetProperty("/api/v1/users").GetProperty("post").GetProperty("responses");
        Assert.True(signUp.TryGetProperty("201", out var created), signUp.ToString());
        Assert.True(created.GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(signUp.GetProperty("400").GetProperty("content").TryGetProperty("application/problem+json", out _));
        var schemas = _document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("UserResponse", out var user), "UserResponse schema");
        Assert.True(user.GetProperty("properties").TryGetProperty("is_admin", out _), "snake_case property names");
    }

    [Fact]
    public void Only_the_rest_api_is_in_it()
    {
        foreach (var path in _document.GetProperty("paths").EnumerateObject()) Assert.StartsWith("/api/", path.Name, StringComparison.Ordinal);
    }

    /// <summary>A route pattern as OpenAPI writes its path: <c>{**path}</c> becomes <c>{path}</c>; constraints go.</summary>
    private static string OpenApiPath(string pattern) =>
        System.Text.RegularExpressions.Regex.Replace(pattern.TrimEnd('/'), @"\{\*{0,2}([A-Za-z_]+)[^}]*\}", "{$1}");
}
