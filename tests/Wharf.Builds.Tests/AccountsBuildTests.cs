using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// One Wharf in accounts mode shared by <see cref="AccountsBuildTests"/>: the administrator's public <c>library/busybox</c>,
/// users alice and bob, and bob's PRIVATE <c>bob/private-base:1</c> holding a secret file (built by Wharf itself).
/// </summary>
public sealed class AccountsBuildFixture : IAsyncLifetime
{
    public static readonly RegistryCredentials Alice = new("alice", "alice-password-1");
    public static readonly RegistryCredentials Bob = new("bob", "bob-password-1");
    public const string BobsSecret = "bob-secret-7f3a9c";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    public BuildServer Anonymous { get; private set; } = null!;

    public BuildServer AsAlice { get; private set; } = null!;

    public BuildServer AsBob { get; private set; } = null!;

    public string BaseImage => Anonymous.BaseImage;

    public async Task InitializeAsync()
    {
        var ct = _timeout.Token;
        Anonymous = await BuildServer.StartAccountsAsync(ct);
        await Anonymous.SignUpAsync(Alice, ct);
        await Anonymous.SignUpAsync(Bob, ct);
        AsAlice = Anonymous.As(Alice);
        AsBob = Anonymous.As(Bob);
        await AsBob.CreateRepositoryAsync("bob", "private-base", "private", ct);
        var id = await AsBob.SubmitOkAsync($"FROM {BaseImage}\nRUN echo {BobsSecret} > /secret.txt\n", "bob/private-base:1", ct);
        await AsBob.AssertSucceededAsync(id, ct);
    }

    public async Task DisposeAsync()
    {
        await AsAlice.DisposeAsync();
        await AsBob.DisposeAsync();
        await Anonymous.DisposeAsync();
        _timeout.Dispose();
    }
}

/// <summary>Builds in accounts mode with real buildah: who may build where, and what a build may read.</summary>
[Trait("Category", "Builds")]
public sealed class AccountsBuildTests(AccountsBuildFixture fixture) : IClassFixture<AccountsBuildFixture>
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private string Host => fixture.Anonymous.Server.HostPort;

    [Fact]
    public async Task A_user_builds_from_an_administrators_public_base_image_into_her_namespace_and_the_image_pulls_back()
    {
        var alice = fixture.AsAlice;
        var id = await alice.SubmitOkAsync($"FROM {Host}/library/busybox:latest\nRUN echo built-by-alice > /who.txt\n", "alice/app:1", Ct);
        var build = await alice.AssertSucceededAsync(id, Ct);
        var manifest = await RegistryHttp.GetManifestAsync(alice.Registry, "alice/app", "1", Ct);
        Assert.Equal(build["digest"]!.GetValue<string>(), manifest.DockerContentDigest);
        Assert.Equal("built-by-alice\n", await BuildServer.ReadFileFromImageAsync(alice.Registry, "alice/app", "1", "who.txt", Ct));

        // Her own private repository is a base image too (another repository than the target).
        var second = await alice.SubmitOkAsync($"FROM {Host}/alice/app:1\nRUN cat /who.txt > /again.txt\n", "alice/tool:1", Ct);
        await alice.AssertSucceededAsync(second, Ct);
        Assert.Equal("built-by-alice\n", await BuildServer.ReadFileFromImageAsync(alice.Registry, "alice/tool", "1", "again.txt", Ct));
        // Private by default: nobody else reads it.
        await Assert.ThrowsAsync<HttpRequestException>(() => RegistryHttp.GetManifestAsync(fixture.AsBob.Registry, "alice/app", "1", Ct));
    }

    [Fact]
    public async Task A_build_from_a_private_repository_its_owner_cannot_read_fails_at_build_and_reveals_nothing()
    {
        var alice = fixture.AsAlice;
        var privateId = await alice.SubmitOkAsync($"FROM {Host}/bob/private-base:1\nRUN cat /secret.txt\n", "alice/stolen:1", Ct);
        var missingId = await alice.SubmitOkAsync($"FROM {Host}/bob/no-such-base:1\nRUN cat /secret.txt\n", "alice/stolen:2", Ct);
        var refused = await alice.WaitForEndAsync(privateId, Ct);
        var missing = await alice.WaitForEndAsync(missingId, Ct);
        var logs = await alice.LogsAsync(privateId, Ct);

        Assert.True(refused["state"]!.GetValue<string>() == "failed", $"{refused.ToJsonString()}\n{logs}");
        Assert.Equal("build", refused["error"]!["kind"]!.GetValue<string>());
        Assert.Equal("failed", refused["build_status"]!.GetValue<string>());
        Assert.Matches("(?i)unauthorized|authentication required|denied", logs); // the pull of the base image was refused
        Assert.DoesNotContain(AccountsBuildFixture.BobsSecret, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(AccountsBuildFixture.BobsSecret, refused.ToJsonString(), StringComparison.Ordinal);
        // The refusal reads exactly like a repository that does not exist: nothing tells alice it is there.
        Assert.Equal("failed", missing["state"]!.GetValue<string>());
        Assert.Equal(refused["error"]!.ToJsonString(), missing["error"]!.ToJsonString());
        Assert.Equal(Normalize(await alice.LogsAsync(missingId, Ct), missingId).Replace("no-such-base", "private-base", StringComparison.Ordinal), Normalize(logs, privateId));
        await Assert.ThrowsAsync<HttpRequestException>(() => RegistryHttp.GetManifestAsync(alice.Registry, "alice/stolen", "1", Ct));
        // bob's image is untouched and still his alone.
        Assert.Equal(AccountsBuildFixture.BobsSecret + "\n", await BuildServer.ReadFileFromImageAsync(fixture.AsBob.Registry, "bob/private-base", "1", "secret.txt", Ct));
    }

    /// <summary>A build log without its timestamps and its build's own id.</summary>
    private static string Normalize(string log, string id) => string.Join('\n', log.Split('\n').Select(line => line.Length >= 25 && line[24] == ' ' ? line[25..] : line))
        .Replace(Guid.Parse(id).ToString("N"), "ID", StringComparison.Ordinal);

    [Fact]
    public async Task A_build_into_someone_elses_namespace_is_refused_at_submit_and_an_anonymous_submit_is_unauthenticated()
    {
        foreach (var target in new[] { "bob/app:1", "busybox:1", "library/busybox:evil" })
        {
            using var forbidden = await fixture.AsAlice.SubmitDockerfileAsync($"FROM {fixture.BaseImage}\n", target, Ct);
            var body = await forbidden.Content.ReadAsStringAsync(Ct);
            Assert.True(forbidden.StatusCode == HttpStatusCode.Forbidden, $"{target}: {(int)forbidden.StatusCode} {body}");
            Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);
            Assert.Equal(403, JsonNode.Parse(body)!["status"]!.GetValue<int>());
            Assert.Contains(target.Split(':')[0], JsonNode.Parse(body)!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using var anonymous = await fixture.Anonymous.SubmitDockerfileAsync($"FROM {fixture.BaseImage}\n", "alice/app:anon", Ct);
        var anonymousBody = await anonymous.Content.ReadAsStringAsync(Ct);
        Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{(int)anonymous.StatusCode} {anonymousBody}");
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);

        // Nothing was queued for any of them.
        var mine = JsonNode.Parse(await fixture.AsAlice.Http.GetStringAsync("api/v1/builds?repository=bob/app", Ct))!;
        Assert.Empty(mine["builds"]!.AsArray());
    }

    [Fact]
    public async Task Build_push_with_basic_credentials_pushes_into_the_callers_namespace_and_anonymous_build_push_is_401()
    {
        var alice = fixture.AsAlice;
        using var response = await LegacyBuildApiTests.BuildPushAsync(alice.Http, Encoding.UTF8.GetBytes($"FROM {fixture.BaseImage}\nRUN echo legacy-alice > /legacy.txt\n"), "legacy", "v1", Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = body["build_id"]!.GetValue<string>();
        var status = await LegacyBuildApiTests.WaitForLegacyEndAsync(alice.Http, id, Ct);
        Assert.True(status["build_status"]!["push_status"]!.GetValue<string>() == "Completed", status.ToJsonString() + "\n" + await alice.LogsAsync(id, Ct));
        var build = await alice.GetBuildAsync(id, Ct);
        Assert.Equal("alice/legacy:v1", build["image"]!.GetValue<string>());
        Assert.Equal("legacy-alice\n", await BuildServer.ReadFileFromImageAsync(alice.Registry, "alice/legacy", "v1", "legacy.txt", Ct));

        using var anonymous = await LegacyBuildApiTests.BuildPushAsync(fixture.Anonymous.Http, Encoding.UTF8.GetBytes($"FROM {fixture.BaseImage}\n"), "legacy", "v2", Ct);
        var refusedText = await anonymous.Content.ReadAsStringAsync(Ct);
        // Plain JSON text: the message reads as written, without \u003C or \u0027 escapes.
        Assert.Contains("<user>/legacy:v2", refusedText, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u00", refusedText, StringComparison.Ordinal);
        var refused = JsonNode.Parse(refusedText)!;
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(401, refused["status"]!.GetValue<int>());
        var message = refused["message"]!.GetValue<string>();
        Assert.Contains("Basic", message, StringComparison.Ordinal);
        Assert.Contains("<user>/legacy:v2", message, StringComparison.Ordinal);
    }
}
