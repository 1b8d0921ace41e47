using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// Pushes to a second registry on loopback that requires credentials (Debian's docker-registry with htpasswd,
/// standing in for Docker Hub): stored credentials through the REST API, and DOCKERHUB_* through /build-push.
/// </summary>
[Trait("Category", "Builds")]
public sealed class ExternalPushTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static async Task<JsonNode> PutCredentialAsync(BuildServer server, string host, string username, string secret, CancellationToken ct)
    {
        using var response = await server.Http.PostAsJsonAsync("api/v1/registry-credentials", new Dictionary<string, string>
        {
            ["host"] = host,
            ["username"] = username,
            ["secret"] = secret,
        }, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task A_push_refused_for_wrong_credentials_succeeds_on_retry_after_they_are_fixed_without_rebuilding()
    {
        await using var hub = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { Credentials = new RegistryCredentials("hubuser", "right-secret") }, Ct);
        await using var server = await BuildServer.StartAsync(Ct);
        var wrong = await PutCredentialAsync(server, hub.HostPort, "hubuser", "wrong-secret", Ct);

        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo external > /where.txt\n", $"{hub.HostPort}/acme/app:2", Ct);
        var failed = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("failed", failed["state"]!.GetValue<string>());
        Assert.Equal("push", failed["error"]!["kind"]!.GetValue<string>());
        Assert.Equal("completed", failed["build_status"]!.GetValue<string>());
        Assert.Equal("failed", failed["push_status"]!.GetValue<string>());
        Assert.Equal(1, failed["push_attempts"]!.GetValue<int>()); // an authentication failure is not transient

        // Storing the same host again replaces the secret (same id).
        var fixedCredential = await PutCredentialAsync(server, hub.HostPort, "hubuser", "right-secret", Ct);
        Assert.Equal(wrong["id"]!.GetValue<string>(), fixedCredential["id"]!.GetValue<string>());
        using (var retry = await server.Http.PostAsync($"api/v1/builds/{id}/retry", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        }
        var done = await server.AssertSucceededAsync(id, Ct);
        Assert.Equal(1, done["build_runs"]!.GetValue<int>());
        Assert.Contains("without rebuilding", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
        Assert.Equal("external\n", await BuildServer.ReadFileFromImageAsync(hub, "acme/app", "2", "where.txt", Ct));
    }

    [Fact]
    public async Task Registry_credentials_are_listed_without_secrets_and_stored_encrypted()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--workers", "0");
        var created = await PutCredentialAsync(server, "registry.example.test", "me", "s3cret-value-123", Ct);
        Assert.DoesNotContain("s3cret", created.ToJsonString(), StringComparison.Ordinal);
        var list = await server.Http.GetStringAsync("api/v1/registry-credentials", Ct);
        Assert.Contains("registry.example.test", list, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", list, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", list, StringComparison.Ordinal);

        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(server.Server.DataDir, "wharf.db")};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT secret FROM registry_credentials";
            var stored = (string)(await command.ExecuteScalarAsync(Ct))!;
            Assert.DoesNotContain("s3cret", stored, StringComparison.Ordinal);
            Assert.True(stored.Length > 40);
        }

        using var bad = await server.Http.PostAsJsonAsync("api/v1/registry-credentials", new Dictionary<string, string> { ["host"] = "not a host", ["username"] = "u", ["secret"] = "s" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var garbage = await server.Http.PostAsync("api/v1/registry-credentials", new StringContent("{nope", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        using var deleted = await server.Http.DeleteAsync($"api/v1/registry-credentials/{created["id"]!.GetValue<string>()}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var again = await server.Http.DeleteAsync($"api/v1/registry-credentials/{created["id"]!.GetValue<string>()}", Ct);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task With_dockerhub_settings_build_push_pushes_under_that_namespace()
    {
        await using var hub = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { Credentials = new RegistryCredentials("hubuser", "hubpass") }, Ct);
        await using var server = await BuildServer.StartAsync(Ct, null,
            "--DOCKERHUB_USERNAME=hubuser", "--DOCKERHUB_PASSWORD=hubpass", "--DOCKERHUB_NAMESPACE=acme",
            $"--Wharf:Builds:DockerHubRegistry={hub.HostPort}");
        using var response = await LegacyBuildApiTests.BuildPushAsync(server.Http, Encoding.UTF8.GetBytes($"FROM {server.BaseImage}\nRUN echo hub > /hub.txt\n"), "tool", "v3", Ct);
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["build_id"]!.GetValue<string>();
        var status = await LegacyBuildApiTests.WaitForLegacyEndAsync(server.Http, id, Ct);
        Assert.True(status["build_status"]!["push_status"]!.GetValue<string>() == "Completed", status.ToJsonString() + await server.LogsAsync(id, Ct));
        Assert.Equal("hub\n", await BuildServer.ReadFileFromImageAsync(hub, "acme/tool", "v3", "hub.txt", Ct));
        Assert.Equal($"{hub.HostPort}/acme/tool:v3", (await server.GetBuildAsync(id, Ct))["pushed_reference"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_registry_that_refuses_connections_is_retried_with_backoff_then_the_push_fails()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:PushRetries=2");
        var closedPort = FreePort.Next();
        var id = await server.SubmitOkAsync("FROM scratch\nLABEL a=b\n", $"127.0.0.1:{closedPort}/acme/app:1", Ct);
        var build = await server.WaitForEndAsync(id, Ct);
        Assert.Equal("failed", build["state"]!.GetValue<string>());
        Assert.Equal("push", build["error"]!["kind"]!.GetValue<string>());
        Assert.Equal(3, build["push_attempts"]!.GetValue<int>());
        Assert.Contains("retrying in", await server.LogsAsync(id, Ct), StringComparison.Ordinal);
    }
}
