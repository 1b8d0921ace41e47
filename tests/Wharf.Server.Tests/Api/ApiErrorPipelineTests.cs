using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Api;

/// <summary>One error pipeline: unknown routes and failures answer in the shape of the surface that was asked.</summary>
public sealed class ApiErrorPipelineTests : IAsyncLifetime
{
    private WharfTestServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, [], builder => builder.Services.AddSingleton<IStartupFilter, ThrowingRoutes>());
        _http = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData("GET", "api/v1/no-such-thing")]
    [InlineData("POST", "api/v1/no-such-thing")]
    [InlineData("GET", "api")]
    [InlineData("GET", "api/v2/repositories")]
    public async Task Unknown_api_routes_answer_404_problem_details(string method, string path)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("/" + path, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_method_a_route_does_not_take_answers_405_problem_details()
    {
        using var response = await _http.PutAsync("api/v1/users", null);
        await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Unknown_registry_routes_keep_the_oci_envelope()
    {
        using var response = await _http.GetAsync("v2/library/alpine/nonsense/x");
        await RegistryClient.AssertErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task A_failure_under_api_is_a_500_problem_not_an_empty_body()
    {
        using var response = await _http.GetAsync("api/v1/boom");
        var problem = await AssertProblemAsync(response, HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("simulated", problem.GetProperty("detail").GetString(), StringComparison.Ordinal); // no exception text leaks
    }

    [Fact]
    public async Task A_failure_under_auth_answers_the_oauth_error_shape()
    {
        using var response = await _http.GetAsync("auth/boom");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("server_error", body.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error_description").GetString()));
    }

    [Fact]
    public async Task A_failure_under_the_legacy_build_routes_answers_their_status_and_message_shape()
    {
        using var response = await _http.GetAsync("build-push-status/boom");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(500, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        return problem;
    }

    /// <summary>Appends, after Wharf's own pipeline, a middleware that throws for paths ending in <c>/boom</c> (paths no endpoint matches).</summary>
    private sealed class ThrowingRoutes : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Use((HttpContext context, RequestDelegate rest) =>
                context.Request.Path.Value!.EndsWith("/boom", StringComparison.Ordinal)
                    ? throw new InvalidOperationException("simulated failure")
                    : rest(context));
        };
    }
}
