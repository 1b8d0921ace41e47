using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// What an operator opens up is reachable, and no more: a listed URL prefix and a listed registry (here on loopback,
/// which only an entry naming the host opens); and what the operator limits holds (CPU, the namespace's storage).
/// </summary>
[Trait("Category", "Builds")]
public sealed partial class BuildAllowancesTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    [GeneratedRegex(@"CPU time used: ([0-9.]+) s")]
    private static partial Regex CpuTime();

    [Fact]
    public async Task A_listed_url_prefix_and_a_listed_registry_are_reached_and_nothing_beside_them()
    {
        await using var files = new RecordingHttpListener("fetched from an allowed URL\n");
        await using var reference = await ReferenceRegistry.StartAsync(ct: Ct);
        await using (var layout = TempDirectory.Create("allowed-base"))
        {
            var image = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", Ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{reference.HostPort}/tools/busybox:1", reference, Ct);
        }
        await using var server = await BuildServer.StartAsync(Ct, null,
            $"--Wharf:Builds:AllowedUrls:0={files.Url}files/", $"--Wharf:Builds:AllowedRegistries:0={reference.HostPort}/tools");

        var id = await server.SubmitOkAsync($"FROM {reference.HostPort}/tools/busybox:1\nADD {files.Url}files/readme.txt /readme.txt\n", "allowed/app:1", Ct);
        await server.AssertSucceededAsync(id, Ct);
        Assert.Equal("fetched from an allowed URL\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "allowed/app", "1", "readme.txt", Ct));
        Assert.Equal(["GET /files/readme.txt HTTP/1.1"], files.Requests.ToArray());

        foreach (var dockerfile in new[]
        {
            $"FROM busybox\nADD {files.Url}private/key /key\n",
            $"FROM {reference.HostPort}/other/busybox:1\n",
        })
        {
            using var refused = await server.SubmitDockerfileAsync(dockerfile, "allowed/refused:1", Ct);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        }
        Assert.Single(files.Requests);
    }

    [Fact]
    public async Task A_build_uses_no_more_cpu_than_its_limit_and_one_that_fills_its_namespaces_storage_is_stopped_naming_the_limit()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--Wharf:Builds:CpuLimit=0.5", $"--Wharf:Builds:MaxStorageBytes={64 * 1024 * 1024}");

        // Two busy loops for three seconds: unlimited, close to six CPU seconds on two cores; at half a CPU, about 1.5.
        const string spin = "e=$(($(date +%s)+3)); while [ $(date +%s) -lt $e ]; do :; done";
        var busy = await server.SubmitOkAsync($"FROM busybox\nRUN ({spin}) & ({spin}) & wait\n", "limits/cpu:1", Ct);
        await server.AssertSucceededAsync(busy, Ct);
        var cpu = double.Parse(CpuTime().Match(await server.LogsAsync(busy, Ct)).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(cpu, 0.5, 3.0);

        var filler = await server.SubmitOkAsync("FROM busybox\nRUN head -c 100000000 /dev/zero > /big && echo filled && sleep 30\n", "limits/disk:1", Ct);
        var build = await server.WaitForEndAsync(filler, Ct, TimeSpan.FromMinutes(1));
        Assert.True(build["state"]!.GetValue<string>() == "failed" && build["error"]?["limit"]?.GetValue<string>() == "MaxStorageBytes", build.ToJsonString());
        Assert.Contains("Wharf:Builds:MaxStorageBytes", build["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The next build of the namespace starts with its storage cleared back under the limit.
        var next = await server.SubmitOkAsync("FROM busybox\nRUN echo fine > /fine.txt\n", "limits/after:1", Ct);
        await server.AssertSucceededAsync(next, Ct);
    }
}
