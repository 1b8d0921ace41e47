using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Operations.Tests;

/// <summary>The console log of a real <c>wharf serve</c> process: JSON lines, request ids, and no secrets.</summary>
public sealed class LoggingTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task Json_logs_are_one_object_per_line_and_carry_the_request_id_the_response_returned()
    {
        await using var folder = TempDirectory.Create("logs-json");
        await using var wharf = await WharfProcess.StartAsync(folder.Path, ["--Logging:Console:FormatterName=json"], Ct);
        using var http = wharf.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "v2/");
        request.Headers.Authorization = Basic("nobody", "not-the-password");
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));

        var line = await WaitForLineAsync(wharf, l => l.Contains("\"EventId\":1001", StringComparison.Ordinal));
        using var entry = JsonDocument.Parse(line);
        Assert.Equal("Warning", entry.RootElement.GetProperty("LogLevel").GetString());
        Assert.Equal("nobody", entry.RootElement.GetProperty("State").GetProperty("User").GetString());
        Assert.Contains(entry.RootElement.GetProperty("Scopes").EnumerateArray(),
            scope => scope.TryGetProperty("RequestId", out var id) && id.GetString() == requestId);
        Assert.True(entry.RootElement.TryGetProperty("Timestamp", out _));
        foreach (var each in wharf.Lines)
        {
            using var parsed = JsonDocument.Parse(each); // every line on its own is one JSON object
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
        }

        // Each request gets its own id.
        using var again = await http.GetAsync("healthz", Ct);
        Assert.NotEqual(requestId, Assert.Single(again.Headers.GetValues("X-Request-Id")));
    }

    [Fact]
    public async Task Passwords_tokens_and_stored_secrets_never_reach_the_log_even_at_debug_level()
    {
        await using var folder = TempDirectory.Create("logs-secrets");
        await using var wharf = await WharfProcess.StartAsync(folder.Path,
            ["--Logging:Console:FormatterName=json", "--Logging:LogLevel:Default=Debug", "--Logging:LogLevel:Microsoft.AspNetCore=Debug"], Ct);
        using var http = wharf.CreateClient();
        const string password = "pa55-word-Zebra-91";
        const string wrongPassword = "wr0ng-word-Yak-17";
        const string registrySecret = "registry-secret-Quokka-53";
        using (var signup = await http.PostAsJsonAsync("api/v1/users", new { username = "alice", password }, Ct))
        {
            Assert.Equal(HttpStatusCode.Created, signup.StatusCode);
        }
        var basic = Basic("alice", password);
        string accessToken;
        using (var create = new HttpRequestMessage(HttpMethod.Post, "api/v1/tokens") { Content = JsonContent.Create(new { name = "ci", scopes = new[] { "pull", "push" } }) })
        {
            create.Headers.Authorization = basic;
            using var response = await http.SendAsync(create, Ct);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            accessToken = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("token").GetString()!;
        }
        string registryToken;
        using (var token = new HttpRequestMessage(HttpMethod.Get, "auth/token?service=wharf&scope=repository:alice/app:pull,push"))
        {
            token.Headers.Authorization = Basic("alice", accessToken);
            using var response = await http.SendAsync(token, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            registryToken = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("token").GetString()!;
        }
        using (var pull = new HttpRequestMessage(HttpMethod.Get, "v2/alice/app/tags/list"))
        {
            pull.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registryToken);
            (await http.SendAsync(pull, Ct)).Dispose();
        }
        using (var credential = new HttpRequestMessage(HttpMethod.Post, "api/v1/registry-credentials")
               { Content = JsonContent.Create(new { host = "127.0.0.1:1", username = "robot", secret = registrySecret }) })
        {
            credential.Headers.Authorization = basic;
            using var response = await http.SendAsync(credential, Ct);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "api/v1/user"))
        {
            wrong.Headers.Authorization = Basic("alice", wrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong, Ct)).StatusCode);
        }
        await WaitForLineAsync(wharf, l => l.Contains("\"EventId\":1001", StringComparison.Ordinal));

        var log = string.Join('\n', wharf.Lines);
        Assert.Contains("alice", log); // the log did see these requests
        foreach (var secret in (string[])[password, wrongPassword, registrySecret, accessToken, registryToken,
                     basic.Parameter!, Basic("alice", accessToken).Parameter!, Basic("alice", wrongPassword).Parameter!])
        {
            Assert.DoesNotContain(secret, log);
        }
        // Not even the middle of a token (a JWT's signature part).
        Assert.DoesNotContain(registryToken.Split('.')[2], log);
    }

    private static AuthenticationHeaderValue Basic(string user, string secret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}")));

    private async Task<string> WaitForLineAsync(WharfProcess wharf, Func<string, bool> match)
    {
        while (true)
        {
            if (wharf.Lines.FirstOrDefault(match) is { } line) return line;
            await Task.Delay(50, Ct);
        }
    }
}
