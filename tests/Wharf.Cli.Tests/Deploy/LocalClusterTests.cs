using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Deploy;

/// <summary>
/// <c>deploy/local-cluster</c> as a user runs it: it starts PostgreSQL, Ceph RGW, two nodes, a worker and nginx and
/// prints the address; skopeo pushes through it and pulls the image back with its digest intact; SIGINT (Ctrl-C) stops
/// every process it started and removes its folders.
/// </summary>
public sealed partial class LocalClusterTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task The_local_cluster_serves_a_push_and_pull_through_nginx_and_sigint_stops_every_process_it_started()
    {
        var script = FindScript();
        await using var work = TempDirectory.Create("local-cluster");
        await using var cluster = RunningProcess.Start(script, [],
            new Dictionary<string, string?> { ["WHARF_DLL"] = Path.Combine(AppContext.BaseDirectory, "wharf.dll") });
        string[] folders = [];
        try
        {
            await cluster.WaitForAsync("Press Ctrl-C to stop.", TimeSpan.FromMinutes(6));
            var address = Address().Match(cluster.Output).Groups[1].Value;
            var listed = Folders().Match(cluster.Output);
            Assert.True(listed.Success, cluster.Describe());
            folders = [listed.Groups[1].Value, listed.Groups[2].Value, listed.Groups[3].Value];
            Assert.All(folders, f => Assert.True(Directory.Exists(f), f));
            // Both nodes and the worker (their data folders are in the first folder), nginx, PostgreSQL, the gateway.
            Assert.Equal(3, HostProcesses.Find(commandLineText: folders[0]).Count(p => p.CommandLine.Contains("wharf.dll", StringComparison.Ordinal)));
            Assert.NotEmpty(HostProcesses.Find(commandLineText: folders[1]));
            Assert.NotEmpty(HostProcesses.Find(commandLineText: folders[2]));

            using (var http = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(2) })
            using (var signUp = await http.PostAsync("api/v1/users",
                new StringContent("""{"username":"captain","password":"captain-password-1"}""", Encoding.UTF8, "application/json"), Ct))
            {
                Assert.True(signUp.StatusCode == HttpStatusCode.Created, await signUp.Content.ReadAsStringAsync(Ct));
            }
            var host = new Uri(address).Authority;
            var registry = new RegistryEndpoint(cluster, host, address, new RegistryCredentials("captain", "captain-password-1"));
            var image = await TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 512 * 1024 }).WriteOciLayoutAsync(work.Combine("layout"), "1", Ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{host}/captain/app:1", registry, Ct);
            var digestFile = work.Combine("pulled.digest");
            await Skopeo.CopyAsync($"docker://{host}/captain/app:1", $"oci:{work.Combine("pulled")}:1", registry, Ct, "--digestfile", digestFile);
            Assert.Equal(image.ManifestDigest, await Skopeo.ReadDigestFileAsync(digestFile, Ct));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- local-cluster ---\n{cluster.Describe()}");
        }

        await ExternalTool.RunCheckedAsync("kill", ["-INT", cluster.Id.ToString(CultureInfo.InvariantCulture)]);
        Assert.Equal(130, await cluster.WaitForExitAsync(TimeSpan.FromMinutes(3)));
        Assert.Contains("local-cluster: stopped", cluster.Error, StringComparison.Ordinal);
        // Every process that named one of its folders is gone (the services' watchdogs notice within a second or so),
        // and so are the folders.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        List<HostProcess> left;
        while ((left = folders.SelectMany(f => HostProcesses.Find(commandLineText: f)).ToList()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, Ct);
        }
        Assert.True(left.Count == 0, "still running:\n" + string.Join("\n", left));
        Assert.All(folders, f => Assert.False(Directory.Exists(f), f));
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "deploy", "local-cluster");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("deploy/local-cluster not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"Wharf is serving on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Address();

    [GeneratedRegex(@"folders: (\S+) \(logs, node caches\), (\S+) \(PostgreSQL\), (\S+) \(Ceph RGW\)")]
    private static partial Regex Folders();
}
