using System.Net;
using System.Net.Http.Json;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.RealClients;

/// <summary>
/// Immutable tags, quotas and retention as the real <c>skopeo</c> meets them: the refusals it shows the user (the OCI
/// <c>DENIED</c> error with the rule, or with quota and usage), and a tag retention deleted that is then unknown.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class StoragePolicySkopeoTests : IAsyncLifetime
{
    private WharfTestServer _server = null!;
    private HttpClient _http = null!;
    private readonly TempDirectory _dir = TempDirectory.Create("skpol");

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Open, null, "--Wharf:Gc:Enabled=false", "--Wharf:Gc:GracePeriod=00:00:00");
        _http = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    /// <summary>An OCI layout of a small image of its own (seeded), as skopeo's source.</summary>
    private async Task<string> LayoutAsync(int seed, int layerSize, CancellationToken ct)
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = layerSize, Seed = seed });
        return (await image.WriteOciLayoutAsync(_dir.Combine($"image-{seed}"), "x", ct)).Reference;
    }

    private static async Task<ToolResult> CopyAsync(string source, string destination, CancellationToken ct) =>
        await ExternalTool.RunAsync("skopeo", ["--insecure-policy", "copy", "--dest-tls-verify=false", "--retry-times", "0", source, destination], cancellationToken: ct);

    [Fact]
    public async Task Skopeo_is_denied_moving_an_immutable_tag_and_is_told_the_rule()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        var remote = $"docker://{_server.HostPort}/policy/app:v1";
        (await CopyAsync(await LayoutAsync(1, 4096, ct), remote, ct)).EnsureSuccess();
        using (var set = await _http.PutAsJsonAsync("api/v1/repositories/policy/app/immutable-tags", new { patterns = new[] { @"v\d+" } }, ct))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        var moved = await CopyAsync(await LayoutAsync(2, 4096, ct), remote, ct);
        Assert.NotEqual(0, moved.ExitCode);
        Assert.Contains("denied", moved.StandardError, StringComparison.OrdinalIgnoreCase);
        // skopeo logs through logrus, which escapes the rule's backslash: denied: … (rule 'v\\d+') …
        Assert.Matches(@"denied: The tag 'v1' of policy/app is immutable \(rule 'v\\+d\+'\) and cannot be moved", moved.StandardError);

        // Nor deleted: skopeo deletes by the digest the tag resolves to, which the tag holds.
        var deleted = await ExternalTool.RunAsync("skopeo", ["delete", "--tls-verify=false", "--retry-times", "0", remote], cancellationToken: ct);
        Assert.NotEqual(0, deleted.ExitCode);
        Assert.True(deleted.StandardError.Contains("denied", StringComparison.OrdinalIgnoreCase) && deleted.StandardError.Contains("cannot be deleted", StringComparison.Ordinal), deleted.StandardError);
        using var still = await _http.GetAsync("v2/policy/app/manifests/v1", ct);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task Skopeo_is_denied_a_push_past_the_quota_and_is_told_quota_and_usage()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        using (var set = await _http.PutAsJsonAsync("api/v1/namespaces/small/quota", new { bytes = 64 * 1024 }, ct)) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        (await CopyAsync(await LayoutAsync(3, 8 * 1024, ct), $"docker://{_server.HostPort}/small/app:1", ct)).EnsureSuccess();

        var refused = await CopyAsync(await LayoutAsync(4, 128 * 1024, ct), $"docker://{_server.HostPort}/small/app:2", ct);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("denied", refused.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Storage quota of namespace 'small' exceeded: quota 64 KiB (65536 bytes), usage", refused.StandardError, StringComparison.Ordinal);
        using var tag = await _http.GetAsync("v2/small/app/manifests/2", ct);
        Assert.Equal(HttpStatusCode.NotFound, tag.StatusCode);
    }

    [Fact]
    public async Task A_first_push_that_the_quota_refuses_leaves_no_repository_behind()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        using (var set = await _http.PutAsJsonAsync("api/v1/namespaces/tight/quota", new { bytes = 16 * 1024 }, ct)) Assert.Equal(HttpStatusCode.OK, set.StatusCode);

        var refused = await CopyAsync(await LayoutAsync(7, 64 * 1024, ct), $"docker://{_server.HostPort}/tight/fresh:1", ct);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Storage quota of namespace 'tight' exceeded", refused.StandardError, StringComparison.Ordinal);

        // Its layers were uploaded (which made the repository) before the manifest was refused: none of it stays.
        using (var repository = await _http.GetAsync("api/v1/repositories/tight/fresh", ct)) Assert.Equal(HttpStatusCode.NotFound, repository.StatusCode);
        Assert.DoesNotContain("tight/fresh", await _http.GetStringAsync("api/v1/repositories?namespace=tight", ct), StringComparison.Ordinal);
        Assert.DoesNotContain("tight/fresh", await _http.GetStringAsync("v2/_catalog", ct), StringComparison.Ordinal);
        using (var search = System.Text.Json.JsonDocument.Parse(await _http.GetStringAsync("api/v1/search?q=fresh", ct)))
        {
            Assert.Empty(search.RootElement.GetProperty("results").EnumerateArray());
        }
        using (var page = await _http.GetAsync("r/tight/fresh", ct)) Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        using (var usage = await _http.GetAsync("api/v1/namespaces/tight/usage", ct))
        {
            Assert.Contains("\"repositories\":0", await usage.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }

        // A push that fits still goes, into a repository made anew.
        (await CopyAsync(await LayoutAsync(8, 4096, ct), $"docker://{_server.HostPort}/tight/fresh:2", ct)).EnsureSuccess();
        using var stored = await _http.GetAsync("v2/tight/fresh/manifests/2", ct);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
    }

    [Fact]
    public async Task A_tag_retention_deleted_is_unknown_to_skopeo_and_the_kept_one_copies_whole()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        foreach (var (tag, seed) in new[] { ("1", 5), ("2", 6) })
        {
            (await CopyAsync(await LayoutAsync(seed, 4096, ct), $"docker://{_server.HostPort}/kept/app:{tag}", ct)).EnsureSuccess();
        }
        using (var set = await _http.PutAsJsonAsync("api/v1/repositories/kept/app/retention", new { keep_last = 1 }, ct)) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        using (var gc = await _http.PostAsJsonAsync("api/v1/gc", new { dry_run = false }, ct)) Assert.Equal(HttpStatusCode.OK, gc.StatusCode);

        var gone = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--retry-times", "0", $"docker://{_server.HostPort}/kept/app:1"], cancellationToken: ct);
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("manifest unknown", gone.StandardError, StringComparison.OrdinalIgnoreCase);
        (await ExternalTool.RunAsync("skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{_server.HostPort}/kept/app:2", $"oci:{_dir.Combine("back")}:2"], cancellationToken: ct)).EnsureSuccess();
        await SkopeoTests.AssertBlobsMatchTheirNamesAsync(_dir.Combine("back"), ct);
    }
}
