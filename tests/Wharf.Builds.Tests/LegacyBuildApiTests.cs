using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>The earlier build service's endpoints, end to end with buildah.</summary>
[Trait("Category", "Builds")]
public sealed class LegacyBuildApiTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    internal static async Task<HttpResponseMessage> BuildPushAsync(HttpClient http, byte[]? dockerfile, string? name, string? tag, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        if (dockerfile is not null)
        {
            var file = new ByteArrayContent(dockerfile);
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", "Dockerfile");
        }
        if (name is not null) form.Add(new StringContent(name), "image_name");
        if (tag is not null) form.Add(new StringContent(tag), "image_tag");
        return await http.PostAsync("build-push", form, ct);
    }

    internal static async Task<JsonNode> WaitForLegacyEndAsync(HttpClient http, string id, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var status = JsonNode.Parse(await http.GetStringAsync($"build-push-status?build_id={id}", ct))!;
            var build = status["build_status"]!["build_status"]!.GetValue<string>();
            var push = status["build_status"]!["push_status"]!.GetValue<string>();
            if (build == "Failed" || push is "Completed" or "Failed") return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException(status.ToJsonString());
            await Task.Delay(100, ct);
        }
    }

    [Fact]
    public async Task Build_push_answers_build_started_and_its_status_reaches_completed_then_the_image_pulls_back()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        using var response = await BuildPushAsync(server.Http, Encoding.UTF8.GetBytes($"FROM {server.BaseImage}\nRUN echo legacy > /hi.txt\n"), "myapp", "v1", Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["status", "message", "build_id"], body.Select(p => p.Key));
        Assert.Equal(200, body["status"]!.GetValue<int>());
        Assert.Equal("Build started", body["message"]!.GetValue<string>());
        var id = body["build_id"]!.GetValue<string>();
        Assert.True(Guid.TryParse(id, out _));

        var status = await WaitForLegacyEndAsync(server.Http, id, Ct);
        Assert.Equal(200, status["status"]!.GetValue<int>());
        Assert.Equal(["build_id", "build_status", "push_status"], status["build_status"]!.AsObject().Select(p => p.Key));
        Assert.Equal(id, status["build_status"]!["build_id"]!.GetValue<string>());
        Assert.True(status["build_status"]!["push_status"]!.GetValue<string>() == "Completed", status.ToJsonString() + await server.LogsAsync(id, Ct));
        Assert.Equal("Completed", status["build_status"]!["build_status"]!.GetValue<string>());
        Assert.Equal("legacy\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "myapp", "v1", "hi.txt", Ct));
    }

    [Fact]
    public async Task A_failing_run_fails_the_build_leaves_the_push_pending_and_retry_builds_again()
    {
        await using var server = await BuildServer.StartAsync(Ct);
        using var response = await BuildPushAsync(server.Http, Encoding.UTF8.GetBytes($"FROM {server.BaseImage}\nRUN echo about to fail && exit 3\n"), "broken", "v1", Ct);
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["build_id"]!.GetValue<string>();
        var status = await WaitForLegacyEndAsync(server.Http, id, Ct);
        Assert.Equal("Failed", status["build_status"]!["build_status"]!.GetValue<string>());
        Assert.Equal("Pending", status["build_status"]!["push_status"]!.GetValue<string>());
        // Beside the earlier service's fields: why it failed, and where to read the log.
        Assert.Equal(["build_id", "build_status", "push_status"], status["build_status"]!.AsObject().Select(p => p.Key));
        Assert.Equal("failed", status["state"]!.GetValue<string>());
        Assert.Equal("build", status["error"]!["kind"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(status["error"]!["message"]!.GetValue<string>()));
        var logUrl = status["log_url"]!.GetValue<string>();
        Assert.Equal($"{server.Server.BaseUrl}/api/v1/builds/{id}/logs", logUrl);
        Assert.Contains("about to fail", await server.Http.GetStringAsync(logUrl, Ct), StringComparison.Ordinal);
        var build = await server.GetBuildAsync(id, Ct);
        Assert.Equal("failed", build["state"]!.GetValue<string>());
        Assert.Equal("build", build["error"]!["kind"]!.GetValue<string>());
        Assert.Equal(1, build["build_runs"]!.GetValue<int>());
        Assert.Contains("about to fail", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
        // Not retried automatically.
        await Task.Delay(1000, Ct);
        Assert.Equal(1, (await server.GetBuildAsync(id, Ct))["build_runs"]!.GetValue<int>());

        using var retry = await server.Http.PostAsync($"retry-build?build_id={id}", null, Ct);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var retried = JsonNode.Parse(await retry.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(200, retried["status"]!.GetValue<int>());
        Assert.Equal("Retry started", retried["message"]!.GetValue<string>());
        Assert.Equal(id, retried["build_id"]!.GetValue<string>());
        var again = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("failed", again["state"]!.GetValue<string>());
        Assert.Equal(2, again["build_runs"]!.GetValue<int>());
    }

    [Fact]
    public async Task While_the_client_is_rate_limited_build_push_answers_in_its_own_status_and_message_shape()
    {
        await using var server = await WharfTestServer.StartAsync(Wharf.Core.Accounts.AuthMode.Accounts, null, "--workers", "0", "--Wharf:Auth:MaxFailedLogins=2");
        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("mallory:wrong-password")));
        var dockerfile = Encoding.UTF8.GetBytes("FROM scratch\n");

        HttpResponseMessage? limited = null;
        for (var attempt = 0; attempt < 5 && limited is null; attempt++)
        {
            var response = await BuildPushAsync(http, dockerfile, "app", "v1", Ct);
            var text = await response.Content.ReadAsStringAsync(Ct);
            var json = JsonNode.Parse(text)!.AsObject();
            // Refused or limited, the answer is {"status", "message"}, never problem details.
            Assert.Equal(["status", "message"], json.Select(p => p.Key));
            Assert.Equal((int)response.StatusCode, json["status"]!.GetValue<int>());
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited = response;
            else Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.NotNull(limited);
        Assert.True(limited!.Headers.RetryAfter is not null);
        Assert.Contains("Too many failed logins", JsonNode.Parse(await limited.Content.ReadAsStringAsync(Ct))!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("application/json", limited.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_requests_get_clear_errors_with_the_right_status()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--workers", "0");
        var http = server.Http;
        var good = Encoding.UTF8.GetBytes("FROM scratch\n");

        async Task Expect(HttpResponseMessage response, HttpStatusCode code, string fragment)
        {
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(Ct);
                Assert.True(response.StatusCode == code, $"expected {code}, got {(int)response.StatusCode}: {text}");
                var json = JsonNode.Parse(text)!;
                Assert.Equal((int)code, json["status"]!.GetValue<int>());
                Assert.Contains(fragment, json["message"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
            }
        }

        await Expect(await BuildPushAsync(http, null, "app", "v1", Ct), HttpStatusCode.BadRequest, "file");
        await Expect(await BuildPushAsync(http, good, null, "v1", Ct), HttpStatusCode.BadRequest, "image_name");
        await Expect(await BuildPushAsync(http, good, "app", null, Ct), HttpStatusCode.BadRequest, "image_tag");
        await Expect(await BuildPushAsync(http, [], "app", "v1", Ct), HttpStatusCode.BadRequest, "empty");
        await Expect(await BuildPushAsync(http, new byte[10 * 1024 * 1024], "app", "v1", Ct), HttpStatusCode.RequestEntityTooLarge, "limit");
        await Expect(await BuildPushAsync(http, good, "Not/A..Valid", "v1", Ct), HttpStatusCode.BadRequest, "not a valid repository name");
        await Expect(await BuildPushAsync(http, good, "app", "bad tag!", Ct), HttpStatusCode.BadRequest, "not a valid tag");
        await Expect(await http.PostAsync("build-push", new StringContent("{}", Encoding.UTF8, "application/json"), Ct), HttpStatusCode.BadRequest, "multipart");
        await Expect(await http.GetAsync("build-push-status", Ct), HttpStatusCode.BadRequest, "build_id");
        await Expect(await http.GetAsync("build-push-status?build_id=not-a-uuid", Ct), HttpStatusCode.BadRequest, "not a valid build id");
        await Expect(await http.GetAsync($"build-push-status?build_id={Guid.NewGuid()}", Ct), HttpStatusCode.NotFound, "no build");
        await Expect(await http.PostAsync($"retry-build?build_id={Guid.NewGuid()}", null, Ct), HttpStatusCode.NotFound, "no build");
        await Expect(await http.GetAsync("retry-build?build_id=12345", Ct), HttpStatusCode.BadRequest, "not a valid build id");

        // A queued build cannot be retried: it has not failed.
        using var queued = await BuildPushAsync(http, good, "app", "v1", Ct);
        var id = JsonNode.Parse(await queued.Content.ReadAsStringAsync(Ct))!["build_id"]!.GetValue<string>();
        await Expect(await http.GetAsync($"retry-build?build_id={id}", Ct), HttpStatusCode.Conflict, "queued");
        var status = JsonNode.Parse(await http.GetStringAsync($"build-push-status?build_id={id}", Ct))!;
        Assert.Equal("Pending", status["build_status"]!["build_status"]!.GetValue<string>());
        Assert.Equal("Pending", status["build_status"]!["push_status"]!.GetValue<string>());
    }
}
