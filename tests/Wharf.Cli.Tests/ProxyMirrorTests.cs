using System.Diagnostics;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// Mirror mode (<c>Wharf:Proxy:Mirror:Upstream</c>) for Docker's <c>registry-mirrors</c> setting, end to end: a dockerd
/// started with <c>--registry-mirror</c> pulls <c>busybox:1</c>, which only the upstream holds, through <c>wharf serve</c>.
/// A daemon falls back to Docker Hub when its mirror fails, so the daemon, Wharf and the upstream all run in a network
/// namespace of this test's own with nothing but <c>lo</c> up: such a fallback fails at once, and no packet leaves the
/// machine. (Docker itself qualifies <c>busybox:1</c> with Docker Hub's name; the test never names a registry host.) Every port inside that namespace is free, so the processes there use fixed ones.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class ProxyMirrorTests
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");

    [Fact]
    public async Task A_dockerd_with_wharf_as_its_registry_mirror_pulls_busybox_from_the_upstream_through_wharf_inside_an_isolated_network()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = cts.Token;
        ExternalTool.RequireTool("ip");
        ExternalTool.RequireTool("nsenter");
        var dockerd = ExternalTool.RequireTool("dockerd");
        await using var dir = TempDirectory.Create("pm");
        var ns = "wharf-mirror-" + Guid.NewGuid().ToString("N")[..8];
        await ExternalTool.RunCheckedAsync("ip", ["netns", "add", ns], cancellationToken: ct);
        RunningProcess? wharf = null;
        RunningProcess? daemon = null;
        ReferenceRegistry? upstream = null;
        try
        {
            await ExternalTool.RunCheckedAsync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"], cancellationToken: ct);
            var links = await ExternalTool.RunCheckedAsync("ip", ["netns", "exec", ns, "ip", "-o", "link", "show"], cancellationToken: ct);
            Assert.Single(links.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // lo, and nothing else

            upstream = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { NetworkNamespace = ns, Port = 5001, AccessLog = true }, ct);
            var image = TestImages.Busybox();
            var layout = await image.WriteOciLayoutAsync(dir.Combine("busybox"), "1", ct);
            await ExternalTool.RunCheckedAsync("ip", ["netns", "exec", ns, "skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                layout.Reference, "docker://127.0.0.1:5001/library/busybox:1"], cancellationToken: ct);

            wharf = RunningProcess.Start("ip", ["netns", "exec", ns, "dotnet", Dll, "serve", "--urls", "http://127.0.0.1:5000",
                "--data-dir", dir.Combine("wharf"), "--workers", "0", "--Wharf:Proxy:Mirror:Upstream=http://127.0.0.1:5001"],
                new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = null, ["WHARF_DATA_DIR"] = null });
            await wharf.WaitForAsync("Press Ctrl+C to stop.", TimeSpan.FromSeconds(120));

            var socket = dir.Combine("docker.sock");
            var host = $"unix://{socket}";
            // nsenter joins only the network namespace: `ip netns exec` would also remount /sys, hiding the cgroups dockerd needs.
            daemon = RunningProcess.Start("nsenter", [$"--net=/run/netns/{ns}", dockerd,
                "--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver=vfs",
                "--data-root", dir.Combine("droot"), "--exec-root", dir.Combine("dexec"), "--pidfile", dir.Combine("docker.pid"), "-H", host,
                "--containerd-namespace", "wharf-mirror-tests", "--containerd-plugins-namespace", "wharf-mirror-tests-plugins",
                "--registry-mirror", "http://127.0.0.1:5000"]);
            var config = dir.CreateSubdirectory("docker-config");
            await File.WriteAllTextAsync(Path.Combine(config, "config.json"), "{}\n", ct);
            var env = new ToolRunOptions { Environment = new Dictionary<string, string?> { ["DOCKER_CONFIG"] = config, ["DOCKER_HOST"] = host } };
            await WaitForDaemonAsync(daemon, env, ct);

            var pull = await ExternalTool.RunAsync("docker", ["pull", "busybox:1"], env, ct);
            Assert.True(pull.Succeeded, pull.Describe() + "\n--- wharf ---\n" + wharf.Describe() + "\n--- upstream ---\n" + upstream.Log);
            var digests = await ExternalTool.RunCheckedAsync("docker", ["image", "inspect", "--format", "{{json .RepoDigests}}", "busybox:1"], env, ct);
            Assert.Contains($"busybox@{image.ManifestDigest}", digests.StandardOutput, StringComparison.Ordinal);
            var run = await ExternalTool.RunCheckedAsync("docker", ["run", "--rm", "--network", "none", "busybox:1", "echo", "mirrored"], env, ct);
            Assert.Contains("mirrored", run.StandardOutput, StringComparison.Ordinal);

            // library/busybox came from the upstream, asked for by Wharf (its user agent), blobs included.
            Assert.Contains(upstream.Log.Split('\n'), line => line.Contains("GET /v2/library/busybox/manifests/1", StringComparison.Ordinal)
                && line.Contains("wharf-proxy", StringComparison.Ordinal));
            Assert.All(image.Layers, layer => Assert.True(upstream.CountRequests("GET", "/blobs/" + layer.Digest) >= 1, upstream.Log));

            // Wharf now holds it: with the upstream gone, a fresh pull is served from Wharf's cache.
            await upstream.DisposeAsync();
            upstream = null;
            await ExternalTool.RunCheckedAsync("docker", ["rmi", "busybox:1"], env, ct);
            var again = await ExternalTool.RunAsync("docker", ["pull", "busybox:1"], env, ct);
            Assert.True(again.Succeeded, again.Describe() + "\n--- wharf ---\n" + wharf.Describe());
        }
        finally
        {
            if (daemon is not null)
            {
                await daemon.StopAsync();
                await daemon.DisposeAsync();
            }
            if (wharf is not null)
            {
                await wharf.StopAsync();
                await wharf.DisposeAsync();
            }
            if (upstream is not null) await upstream.DisposeAsync();
            await ExternalTool.RunAsync("ip", ["netns", "del", ns]);
        }
    }

    private static async Task WaitForDaemonAsync(RunningProcess daemon, ToolRunOptions env, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        ToolResult? last = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (daemon.HasExited) throw new Xunit.Sdk.XunitException("dockerd exited during start-up.\n" + daemon.Describe());
            last = await ExternalTool.RunAsync("docker", ["info", "--format", "{{.ServerVersion}}"], env, ct);
            if (last.Succeeded) return;
            await Task.Delay(250, ct);
        }
        throw new Xunit.Sdk.XunitException($"dockerd did not answer within 120 s.\n{last?.Describe()}\n{daemon.Describe()}");
    }
}
