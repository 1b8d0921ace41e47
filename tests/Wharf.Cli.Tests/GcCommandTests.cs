using System.Net;
using System.Security.Cryptography;
using System.Text;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf gc [--dry-run]</c> against the data of a server that keeps running.</summary>
public sealed class GcCommandTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wgc");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartAsync(AuthMode.Open, _dir.CreateSubdirectory("data"), "--Wharf:Gc:Enabled=false");
        _cli = new WharfCli(_dir) { WorkingDirectory = _dir.CreateSubdirectory("work") };
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Fact]
    public async Task A_dry_run_says_what_would_go_and_the_collection_then_frees_it_while_the_server_runs()
    {
        using var http = _server.CreateClient();
        var content = Encoding.UTF8.GetBytes("a layer nobody references");
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        using (var post = await http.PostAsync("v2/team/app/blobs/uploads/", null))
        {
            var location = post.Headers.Location!.OriginalString.TrimStart('/');
            using var put = await http.PutAsync(location + (location.Contains('?') ? "&" : "?") + "digest=" + digest, new ByteArrayContent(content));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        string[] args = ["--data-dir", _server.DataDir, "--Wharf:Gc:GracePeriod=00:00:00"];

        var dry = await _cli.RunAsync(["gc", "--dry-run", .. args]);
        dry.EnsureSuccess();
        Assert.Contains("(dry run): would delete 1 blobs", dry.Output, StringComparison.Ordinal);
        using (var still = await http.GetAsync($"v2/team/app/blobs/{digest}")) Assert.Equal(HttpStatusCode.OK, still.StatusCode);

        var real = await _cli.RunAsync(["gc", .. args]);
        real.EnsureSuccess();
        Assert.Contains("deleted 1 blobs (25 B) and 0 manifests", real.Output, StringComparison.Ordinal);
        using (var gone = await http.GetAsync($"v2/team/app/blobs/{digest}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        // The server sees the runs the command recorded.
        var runs = await http.GetStringAsync("api/v1/gc/runs");
        Assert.Contains("\"trigger\":\"cli\"", runs, StringComparison.Ordinal);
    }
}
