using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Core.Digests;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Gc;

/// <summary>
/// Immutable tags (a matching tag is pushed once, then neither moved nor deleted: <c>DENIED</c> naming the rule) and
/// namespace quotas (a push past the quota is <c>DENIED</c> with quota and usage, nothing of it stays, and concurrent
/// pushes never take the usage past the quota).
/// </summary>
public class ImmutableTagsAndQuotaTests : RegistryTestBase
{
    protected override string[] ServerArgs => ["--Wharf:Gc:Enabled=false"];

    private async Task<(Digest Digest, long Bytes)> PushSizedImageAsync(string repository, string tag, string salt, int layerBytes)
    {
        var config = Bytes($$"""{"architecture":"amd64","os":"linux","salt":"{{salt}}"}""");
        var layer = new byte[layerBytes];
        Random.Shared.NextBytes(layer);
        var configDigest = await Registry.PushBlobAsync(repository, config);
        var layerDigest = await Registry.PushBlobAsync(repository, layer);
        var json = ImageManifest((configDigest, config.Length), [(layerDigest, layer.Length)]);
        using var response = await Registry.PutManifestAsync(repository, tag, json);
        return (response.StatusCode == HttpStatusCode.Created ? Digest.Compute(Bytes(json)) : default, config.Length + layer.Length);
    }

    private async Task<JsonElement> UsageAsync(string ns)
    {
        using var usage = await ReadJsonAsync(await Http.GetAsync($"api/v1/namespaces/{ns}/usage"));
        return usage.RootElement.Clone();
    }

    /// <summary>An /api refusal: problem details (403) whose detail names the tag and the rule.</summary>
    private static async Task AssertImmutableProblemAsync(HttpResponseMessage response, string tag)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var detail = problem.RootElement.GetProperty("detail").GetString()!;
        Assert.Contains($"tag '{tag}'", detail, StringComparison.Ordinal);
        Assert.Contains("immutable", detail, StringComparison.Ordinal);
        Assert.Contains(@"rule 'v\d+'", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_immutable_tag_is_pushed_once_then_neither_moved_nor_deleted()
    {
        var first = await Registry.PushImageAsync("team/app", "v1", salt: "first");
        using (var set = await Http.PutAsJsonAsync("api/v1/repositories/team/app/immutable-tags", new { patterns = new[] { @"v\d+" } }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }
        using (var get = await ReadJsonAsync(await Http.GetAsync("api/v1/repositories/team/app/immutable-tags")))
        {
            Assert.Equal(@"v\d+", get.RootElement.GetProperty("patterns")[0].GetString());
        }

        var other = await Registry.PushImageAsync("team/app", "latest", salt: "other"); // not matching: moves freely
        using (var move = await Registry.PutManifestAsync("team/app", "v1", other.Json))
        {
            var error = await AssertErrorAsync(move, HttpStatusCode.Forbidden, "DENIED");
            Assert.Contains(@"rule 'v\d+'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var again = await Registry.PutManifestAsync("team/app", "v1", first.Json)) Assert.Equal(HttpStatusCode.Created, again.StatusCode); // same digest: not a move
        await Registry.PushManifestAsync("team/app", "v2", other.Json); // a new matching tag may be pushed
        await Registry.PushManifestAsync("team/app", "v10-rc", other.Json); // the whole tag must match

        using (var deleteTag = await Http.DeleteAsync("v2/team/app/manifests/v1")) await AssertErrorAsync(deleteTag, HttpStatusCode.Forbidden, "DENIED");
        using (var deleteManifest = await Http.DeleteAsync($"v2/team/app/manifests/{first.Digest}")) await AssertErrorAsync(deleteManifest, HttpStatusCode.Forbidden, "DENIED");
        using (var apiDelete = await Http.DeleteAsync("api/v1/repositories/team/app/tags/v1")) await AssertImmutableProblemAsync(apiDelete, "v1");
        using (var untagged = await Http.DeleteAsync("v2/team/app/manifests/v2")) await AssertErrorAsync(untagged, HttpStatusCode.Forbidden, "DENIED");
        using (var resolved = await Http.GetAsync("v2/team/app/manifests/v1"))
        {
            Assert.Equal(first.Digest.ToString(), Header(resolved, "Docker-Content-Digest"));
        }
        using (var freeDelete = await Http.DeleteAsync("v2/team/app/manifests/latest")) Assert.Equal(HttpStatusCode.Accepted, freeDelete.StatusCode);
    }

    [Fact]
    public async Task A_repository_holding_an_immutable_tag_is_not_deleted_until_the_rule_goes()
    {
        await Registry.PushImageAsync("team/app", "v1");
        using (var set = await Http.PutAsJsonAsync("api/v1/repositories/team/app/immutable-tags", new { patterns = new[] { @"v\d+" } })) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        using (var refused = await Http.DeleteAsync("api/v1/repositories/team/app")) await AssertImmutableProblemAsync(refused, "v1");
        using (var still = await Http.GetAsync("v2/team/app/manifests/v1")) Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        using (var cleared = await Http.PutAsJsonAsync("api/v1/repositories/team/app/immutable-tags", new { patterns = Array.Empty<string>() })) Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        using var deleted = await Http.DeleteAsync("api/v1/repositories/team/app");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task Immutable_patterns_that_are_not_regular_expressions_are_refused()
    {
        await Registry.PushImageAsync("team/app", "v1");
        using var bad = await Http.PutAsJsonAsync("api/v1/repositories/team/app/immutable-tags", new { patterns = new[] { "v(" } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var missing = await Http.PutAsJsonAsync("api/v1/repositories/team/none/immutable-tags", new { patterns = new[] { "v1" } });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_push_past_the_quota_is_denied_with_quota_and_usage_and_leaves_nothing()
    {
        using (var set = await Http.PutAsJsonAsync("api/v1/namespaces/team/quota", new { bytes = 2000 })) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var (kept, keptBytes) = await PushSizedImageAsync("team/app", "small", "small", 1000);
        Assert.NotEqual(default, kept);
        Assert.Equal(keptBytes, (await UsageAsync("team")).GetProperty("used_bytes").GetInt64());
        Assert.Equal(2000, (await UsageAsync("team")).GetProperty("quota_bytes").GetInt64());

        var config = Bytes("""{"architecture":"amd64","os":"linux","salt":"big"}""");
        var layer = new byte[1500];
        var configDigest = await Registry.PushBlobAsync("team/other", config);
        var layerDigest = await Registry.PushBlobAsync("team/other", layer);
        var json = ImageManifest((configDigest, config.Length), [(layerDigest, layer.Length)]);
        using (var denied = await Registry.PutManifestAsync("team/other", "big", json))
        {
            var error = await AssertErrorAsync(denied, HttpStatusCode.Forbidden, "DENIED");
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains("quota", message, StringComparison.Ordinal);
            Assert.Contains($"usage 1 KiB ({keptBytes} bytes)", message, StringComparison.Ordinal); // 1,052 bytes
            Assert.Contains("(2000 bytes)", message, StringComparison.Ordinal);
        }
        using (var none = await Http.GetAsync($"v2/team/other/manifests/{Digest.Compute(Bytes(json))}")) Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        using (var noRepository = await Http.GetAsync("api/v1/repositories/team/other")) Assert.Equal(HttpStatusCode.NotFound, noRepository.StatusCode); // a first push: none made
        using (var noLink = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/team/other/blobs/{layerDigest}"))) Assert.Equal(HttpStatusCode.NotFound, noLink.StatusCode);
        Assert.Equal(keptBytes, (await UsageAsync("team")).GetProperty("used_bytes").GetInt64());

        // Another namespace has no quota, and its pushes do not count in this one's usage.
        Assert.NotEqual(default, (await PushSizedImageAsync("bob/app", "big", "big", 1500)).Digest);
        Assert.Equal(keptBytes, (await UsageAsync("team")).GetProperty("used_bytes").GetInt64());

        // Without the quota, the client uploads again (its blobs were unlinked with the refusal) and the push goes.
        using (var removed = await Http.PutAsJsonAsync("api/v1/namespaces/team/quota", new { bytes = (long?)null })) Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        await Registry.PushBlobAsync("team/other", config);
        await Registry.PushBlobAsync("team/other", layer);
        await Registry.PushManifestAsync("team/other", "big", json);
    }

    [Fact]
    public async Task Concurrent_pushes_never_take_the_usage_past_the_quota()
    {
        const int quota = 3500;
        using (var set = await Http.PutAsJsonAsync("api/v1/namespaces/team/quota", new { bytes = quota })) Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var pushes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => PushSizedImageAsync($"team/app{i % 3}", "v1", $"c{i}", 1000)));
        var stored = pushes.Count(p => p.Digest != default);
        var used = (await UsageAsync("team")).GetProperty("used_bytes").GetInt64();
        Assert.True(used <= quota, $"usage {used} passed the quota {quota}");
        Assert.Equal(pushes.Where(p => p.Digest != default).Sum(p => p.Bytes), used);
        Assert.InRange(stored, 1, 3);
    }
}

public sealed class ImmutableTagsAndQuotaTestsOnPostgreSql : ImmutableTagsAndQuotaTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}
