using System.Net;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf create</c> and <c>wharf search</c> given bad names, too much text, someone else's namespace or no server: a documented
/// exit code and a message that says what to do; what can be checked locally is refused before any request.
/// </summary>
public sealed class CreateAndSearchBadInputTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wcsb");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartRecordingAsync(AuthMode.Accounts);
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    /// <summary>Signs up <paramref name="user"/> over HTTP (not through the CLI) and logs the CLI in as them.</summary>
    private async Task LoginAsAsync(string user)
    {
        using var http = _server.CreateClient();
        using var body = new StringContent($$"""{"username":"{{user}}","password":"{{user}}-password"}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("api/v1/users", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        (await _cli.RunAsync(["login", _server.HostPort, "-u", user, "--password-stdin"], $"{user}-password", CancellationToken.None)).EnsureSuccess();
    }

    [Theory]
    [InlineData("Alice/app", "upper-case")]
    [InlineData("alice/../etc", "'..'")]
    [InlineData("alice/my app", "white space")]
    [InlineData("alice//app", "cannot be empty")]
    [InlineData("alice/app:1", "give the repository alone")]
    public async Task Invalid_repository_names_are_refused_before_any_request(string name, string hint)
    {
        var result = await _cli.RunAsync("create", name, "--server", _server.HostPort);

        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.Contains(hint, result.Error);
        Assert.Empty(_server.Requests!.Entries);
    }

    [Fact]
    public async Task Bad_search_options_are_refused_before_any_request()
    {
        var badNamespace = await _cli.RunAsync("search", "app", "--namespace", "Alice/x", "--server", _server.HostPort);
        Assert.True(badNamespace.ExitCode == 2, badNamespace.Describe());
        Assert.Contains("not a namespace", badNamespace.Error);

        var badLimit = await _cli.RunAsync("search", "app", "--limit", "0", "--server", _server.HostPort);
        Assert.Equal(2, badLimit.ExitCode);
        Assert.Contains("--limit", badLimit.Error);

        Assert.Equal(2, (await _cli.RunAsync("search", "--server", _server.HostPort)).ExitCode);
        Assert.Equal(2, (await _cli.RunAsync("search", " ", "--server", _server.HostPort)).ExitCode);
        Assert.Equal(2, (await _cli.RunAsync("create", "alice/app", "--public", "--private", "--server", _server.HostPort)).ExitCode);
        var readme = await _cli.RunAsync("create", "alice/app", "--readme", _dir.Combine("nope.md"), "--server", _server.HostPort);
        Assert.Equal(2, readme.ExitCode);
        Assert.Contains("does not exist", readme.Error);
        Assert.Empty(_server.Requests!.Entries);
    }

    [Fact]
    public async Task A_description_that_is_too_long_is_refused_and_nothing_is_created()
    {
        await LoginAsAsync("admin1"); // the first user, so that alice below is not the administrator
        await LoginAsAsync("alice");

        var result = await _cli.RunAsync("create", "alice/app", "--description", new string('d', 1001), "-o", "json");

        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.Contains("longer than 1000 characters", result.Error);
        Assert.Equal(2, (int)result.Json["error"]!["exit_code"]!);
        Assert.Empty((await _cli.RunAsync("search", "app", "-o", "json")).EnsureSuccess().Json["results"]!.AsArray());
        (await _cli.RunAsync("create", "alice/app", "--description", new string('d', 1000))).EnsureSuccess();
    }

    [Fact]
    public async Task Creating_in_someone_elses_namespace_exits_with_4_and_names_it()
    {
        await LoginAsAsync("bob");
        await LoginAsAsync("alice");

        var result = await _cli.RunAsync("create", "bob/app");

        Assert.True(result.ExitCode == 4, result.Describe());
        Assert.Contains("'bob'", result.Error);
        Assert.Contains("owner", result.Error);
        var unknown = await _cli.RunAsync("create", "nobody-at-all/app");
        Assert.True(unknown.ExitCode == 4, unknown.Describe());
        Assert.Contains("'nobody-at-all'", unknown.Error);
        Assert.Empty((await _cli.RunAsync("search", "app", "-o", "json")).EnsureSuccess().Json["results"]!.AsArray());
    }

    [Fact]
    public async Task Creating_without_logging_in_exits_with_4_and_says_to_log_in()
    {
        var result = await _cli.RunAsync("create", "alice/app", "--server", _server.HostPort);

        Assert.True(result.ExitCode == 4, result.Describe());
        Assert.Contains($"wharf login {_server.HostPort}", result.Error);
    }

    [Fact]
    public async Task A_server_that_is_down_gives_exit_code_5()
    {
        var port = FreePort.Next();
        foreach (var args in new[] { new[] { "create", "alice/app" }, ["search", "app"], ["search", "app", "-o", "json"] })
        {
            var result = await _cli.RunAsync([.. args, "--server", $"127.0.0.1:{port}"]);
            Assert.True(result.ExitCode == 5, result.Describe());
            Assert.Contains($"Cannot reach the server at http://127.0.0.1:{port}", result.Error);
        }
    }
}
