using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf retention set|show</c>, <c>wharf quota set|show</c> and <c>wharf usage</c> as separate processes against a real Wharf.</summary>
public sealed class PolicyCommandsTests
{
    [Fact]
    public async Task Retention_quota_and_usage_verbs_set_and_show_what_the_server_keeps()
    {
        var ct = CancellationToken.None;
        await using var home = TempDirectory.Create("polcli");
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--Wharf:Builds:Workers=0", "--Wharf:Gc:Enabled=false");
        var cli = new WharfCli(home);
        (await cli.RunAsync(["signup", "--server", server.HostPort, "-u", "boss", "--password-stdin"], "boss-password", ct)).EnsureSuccess();
        (await cli.RunAsync(["login", server.HostPort, "-u", "boss", "--password-stdin"], "boss-password", ct)).EnsureSuccess();

        // An image of 900 bytes of layer in boss/app, pushed over the API.
        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("boss:boss-password")));
        var config = Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}""");
        var layer = new byte[900];
        var configDigest = await PushBlobAsync(http, "boss/app", config);
        var layerDigest = await PushBlobAsync(http, "boss/app", layer);
        var manifest = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{layerDigest}}","size":900}]}""";
        using (var put = await http.PutAsync("v2/boss/app/manifests/v1", new StringContent(manifest, Encoding.UTF8, "application/vnd.oci.image.manifest.v1+json"), ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var set = (await cli.RunAsync("retention", "set", "boss/app", "--keep-last", "3", "--keep-tags-matching", "release-.*")).EnsureSuccess();
        Assert.Contains("keep the last 3 tags pushed; keep tags matching 'release-.*'", set.Output, StringComparison.Ordinal);
        var shown = (await cli.RunAsync("retention", "show", "boss/app", "-o", "json")).EnsureSuccess();
        Assert.Equal(3, (int)shown.Json["keep_last"]!);
        Assert.Null(shown.Json["keep_pulled_within_days"]);
        var nothing = await cli.RunAsync("retention", "set", "boss/app");
        Assert.True(nothing.ExitCode == 2, nothing.Describe());
        var badPattern = await cli.RunAsync("retention", "set", "boss/app", "--keep-tags-matching", "v(");
        Assert.True(badPattern.ExitCode == 2, badPattern.Describe());
        Assert.Contains("not a regular expression", badPattern.Error, StringComparison.Ordinal);
        (await cli.RunAsync("retention", "set", "boss/app", "--none")).EnsureSuccess();
        Assert.Contains("none (every tag is kept)", (await cli.RunAsync("retention", "show", "boss/app")).EnsureSuccess().Output, StringComparison.Ordinal);
        var missing = await cli.RunAsync("retention", "show", "boss/none");
        Assert.True(missing.ExitCode == 3, missing.Describe());

        var quota = (await cli.RunAsync("quota", "set", "boss", "10KiB")).EnsureSuccess();
        Assert.Contains("quota 10 KiB (10240 bytes)", quota.Output, StringComparison.Ordinal);
        var usage = (await cli.RunAsync("usage", "boss", "-o", "json")).EnsureSuccess();
        Assert.Equal(config.Length + 900, (long)usage.Json["used_bytes"]!);
        Assert.Equal(10240, (long)usage.Json["quota_bytes"]!);
        Assert.Equal(2, (long)usage.Json["blobs"]!);
        Assert.Contains($"boss: {config.Length + 900} B used", (await cli.RunAsync("quota", "show", "boss")).EnsureSuccess().Output, StringComparison.Ordinal);
        var badSize = await cli.RunAsync("quota", "set", "boss", "ten");
        Assert.True(badSize.ExitCode == 2, badSize.Describe());
        (await cli.RunAsync("quota", "set", "boss", "none")).EnsureSuccess();
        Assert.Contains("no quota", (await cli.RunAsync("usage", "boss")).EnsureSuccess().Output, StringComparison.Ordinal);

        // alice is no administrator: she may not set quotas, nor see boss's usage.
        await using var aliceHome = TempDirectory.Create("polcli-a");
        var alice = new WharfCli(aliceHome);
        (await alice.RunAsync(["signup", "--server", server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();
        (await alice.RunAsync(["login", server.HostPort, "-u", "alice", "--password-stdin"], "alices-password", ct)).EnsureSuccess();
        var refused = await alice.RunAsync("quota", "set", "alice", "1GiB");
        Assert.True(refused.ExitCode == 4, refused.Describe());
        var hidden = await alice.RunAsync("usage", "boss");
        Assert.True(hidden.ExitCode == 3, hidden.Describe());
    }

    private static async Task<string> PushBlobAsync(HttpClient http, string repository, byte[] content)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        using var post = await http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = post.Headers.Location!.OriginalString.TrimStart('/');
        using var put = await http.PutAsync(location + (location.Contains('?') ? "&" : "?") + "digest=" + digest, new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }
}
