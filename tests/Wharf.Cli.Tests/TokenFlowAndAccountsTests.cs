using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The client side of the Bearer token flow against <see cref="FakeHub"/>, which records every token request, so the scopes asked
/// for and the per-scope token cache can be checked. The account verbs run against Wharf itself in <see cref="WharfAccountsEndToEndTests"/>.
/// </summary>
public sealed class TokenFlowAndAccountsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wtok");
    private FakeHub _hub = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _hub = await FakeHub.StartAsync("alice", "wonderland");
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Fact]
    public async Task Login_and_tags_follow_bearer_challenges_with_basic_credentials_and_cache_the_token_per_scope()
    {
        (await _cli.RunAsync(["login", _hub.HostPort, "-u", "alice", "--password-stdin"], "wonderland", CancellationToken.None)).EnsureSuccess();
        var loginRequest = Assert.Single(_hub.TokenRequests);
        Assert.Equal("alice", loginRequest.User);
        Assert.Contains($"service={FakeHub.Service}", loginRequest.Query);

        while (_hub.TokenRequests.TryDequeue(out _)) { }
        var tags = (await _cli.RunAsync("tags", "alice/app", "-o", "json")).EnsureSuccess();

        // Both pages (Link pagination), one token for the pull scope reused for every later request of the command.
        Assert.Equal(["1", "2"], tags.Json["tags"]!.AsArray().Select(t => (string)t!["tag"]!));
        var tokenRequest = Assert.Single(_hub.TokenRequests);
        Assert.Contains("scope=repository%3Aalice%2Fapp%3Apull", tokenRequest.Query);
        Assert.Equal("alice", tokenRequest.User);
    }
}
