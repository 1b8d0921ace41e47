using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Api;

/// <summary>Accounts mode: no write anywhere under /api/v1 without an authenticated owner (sign-up aside), refused before the body is read.</summary>
public sealed class AnonymousWriteTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task An_anonymous_registry_credential_is_refused_stored_nowhere_and_listed_to_no_one()
    {
        using var anonymous = _http.Anonymous();
        using (var created = await anonymous.PostAsJsonAsync("api/v1/registry-credentials", new { host = "127.0.0.1:5999", username = "u", secret = "s3cret" }))
        {
            await ApiErrorPipelineTests.AssertProblemAsync(created, HttpStatusCode.Unauthorized);
            Assert.Contains("Basic", created.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        using (var listed = await anonymous.GetAsync("api/v1/registry-credentials"))
        {
            await ApiErrorPipelineTests.AssertProblemAsync(listed, HttpStatusCode.Unauthorized);
        }
        using var boss = _http.Basic("boss");
        var bosses = JsonDocument.Parse(await boss.GetStringAsync("api/v1/registry-credentials")).RootElement;
        Assert.Equal(0, bosses.GetProperty("credentials").GetArrayLength());
    }

    [Fact]
    public async Task Every_api_write_route_refuses_an_anonymous_caller_except_sign_up()
    {
        var writes = _http.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Endpoint: e, Method: m)))
            .Where(x => x.Method is not ("GET" or "HEAD" or "OPTIONS"))
            .ToList();
        Assert.True(writes.Count >= 12, $"only {writes.Count} write routes found");
        using var anonymous = _http.Anonymous();
        var checkedRoutes = new List<string>();
        foreach (var (endpoint, method) in writes)
        {
            var path = Concrete(endpoint.RoutePattern.RawText!.TrimEnd('/'));
            // The body each route takes (JSON, or the build form), so that only the caller can be what is refused.
            var accepts = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes.FirstOrDefault() ?? "application/json";
            using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/'))
            {
                Content = accepts == "application/json"
                    ? new StringContent("""{"username":"mallory","password":"long-enough-password","name":"x","namespace":"boss"}""", Encoding.UTF8, "application/json")
                    : new MultipartFormDataContent { { new StringContent("boss/app:1"), "image" } },
            };
            using var response = await anonymous.SendAsync(request);
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                Assert.Equal("/api/v1/users", endpoint.RoutePattern.RawText);
                continue;
            }
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            checkedRoutes.Add($"{method} {path}");
        }
        Assert.Contains("POST /api/v1/registry-credentials", checkedRoutes);
        Assert.Contains("POST /api/v1/repositories", checkedRoutes);
    }

    [Fact]
    public async Task A_refused_anonymous_write_does_not_wait_for_its_body()
    {
        // The request announces a 1 GiB body and sends none of it: an answer proves the body was never read.
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", new Uri(_http.Server.BaseUrl).Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            "POST /api/v1/registry-credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"));
        var answer = await RawHttp.ReadResponseAsync(stream, TimeSpan.FromSeconds(30));
        Assert.Equal(401, answer.Status);
    }

    private static string Concrete(string pattern) => pattern
        .Replace("{**path}", "boss/app", StringComparison.Ordinal)
        .Replace("{id}", "1", StringComparison.Ordinal)
        .Replace("{org}", "acme", StringComparison.Ordinal)
        .Replace("{user}", "boss", StringComparison.Ordinal);
}
