using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf gc</c> killed with SIGKILL in the middle of its work, again and again, beside a running server: every tagged
/// image still pulls whole with its digests, and the next collection finishes the work (nothing unreferenced stays, no
/// blob row is left claimed). On SQLite and the file system here; on PostgreSQL and the real Ceph RGW (S3) below.
/// </summary>
public class GcKillTests : IAsyncLifetime
{
    /// <summary>How many images are pushed (a third stay tagged).</summary>
    protected virtual int Images => 60;
    private readonly TempDirectory _dir = TempDirectory.Create("wgckill");
    private WharfTestServer _server = null!;
    private HttpClient _http = null!;
    private WharfCli _cli = null!;
    private string[] _storeArgs = [];

    /// <summary>The configuration that puts the metadata and the blobs on the providers under test (none: SQLite and the file system in the data folder).</summary>
    protected virtual Task<string[]> StoreArgsAsync() => Task.FromResult<string[]>([]);

    /// <summary>The blobs in the blob store, by digest.</summary>
    protected virtual Task<HashSet<string>> StoredBlobsAsync()
    {
        var root = Path.Combine(_server.DataDir, "blobs", "sha256");
        return Task.FromResult<HashSet<string>>(Directory.Exists(root)
            ? [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).Length == 64).Select(f => "sha256:" + Path.GetFileName(f))]
            : []);
    }

    /// <summary>Blob rows left claimed (<c>deleting</c>) in the metadata database.</summary>
    protected virtual async Task<long> ClaimedRowsAsync()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_server.DataDir, "wharf.db")};Mode=ReadOnly");
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT count(*) FROM blobs WHERE state = 'deleting'");
    }

    protected virtual Task DisposeStoresAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _storeArgs = await StoreArgsAsync();
        _server = await WharfTestServer.StartAsync(AuthMode.Open, _dir.CreateSubdirectory("data"), ["--Wharf:Gc:Enabled=false", .. _storeArgs]);
        _http = _server.CreateClient();
        _cli = new WharfCli(_dir) { WorkingDirectory = _dir.CreateSubdirectory("work") };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        await DisposeStoresAsync();
        await _dir.DisposeAsync();
    }

    private static string DigestOf(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private async Task<string> PushBlobAsync(string repository, byte[] content)
    {
        var digest = DigestOf(content);
        using var post = await _http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        var location = post.Headers.Location!.OriginalString.TrimStart('/');
        using var put = await _http.PutAsync(location + (location.Contains('?') ? "&" : "?") + "digest=" + digest, new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    /// <summary>An image of its own config, a layer of its own and one of five shared layers.</summary>
    private async Task<(string Manifest, string[] Blobs)> PushImageAsync(string repository, string tag, int i)
    {
        var config = Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","image":{{i}}}""");
        var own = Encoding.UTF8.GetBytes($"the layer of image {i} " + new string('x', 200));
        var shared = Encoding.UTF8.GetBytes($"shared layer {i % 5} " + new string('y', 300));
        string[] blobs = [await PushBlobAsync(repository, config), await PushBlobAsync(repository, own), await PushBlobAsync(repository, shared)];
        var manifest = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{blobs[0]}}","size":{{config.Length}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{blobs[1]}}","size":{{own.Length}}},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{blobs[2]}}","size":{{shared.Length}}}]}""";
        using var put = await _http.PutAsync($"v2/{repository}/manifests/{tag}", new StringContent(manifest, Encoding.UTF8, "application/vnd.oci.image.manifest.v1+json"));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return (manifest, blobs);
    }

    private async Task<int> UnfinishedCliRunsAsync()
    {
        using var runs = JsonDocument.Parse(await _http.GetStringAsync("api/v1/gc/runs?limit=100"));
        return runs.RootElement.GetProperty("runs").EnumerateArray()
            .Count(r => r.GetProperty("trigger").GetString() == "cli" && r.GetProperty("finished_at").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task A_collector_killed_at_random_points_leaves_every_tagged_image_whole_and_the_next_run_finishes()
    {
        var kept = new Dictionary<string, (string Manifest, string[] Blobs)>();
        var garbage = new HashSet<string>();
        for (var i = 0; i < Images; i++)
        {
            var repository = $"kill/r{i % 6}";
            var pushed = await PushImageAsync(repository, $"t{i}", i);
            if (i % 3 == 0)
            {
                kept[$"{repository}:t{i}"] = pushed;
                continue;
            }
            using var untag = await _http.DeleteAsync($"v2/{repository}/manifests/t{i}");
            Assert.Equal(HttpStatusCode.Accepted, untag.StatusCode);
            garbage.UnionWith(pushed.Blobs);
        }
        var needed = kept.Values.SelectMany(k => k.Blobs).ToHashSet();
        garbage.ExceptWith(needed);
        Assert.NotEmpty(garbage);
        // One candidate a query and no grace period: many small steps, each a point where the kill may land.
        string[] args = ["gc", "--data-dir", _server.DataDir, .. _storeArgs, "--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:BatchSize=1"];
        var env = new Dictionary<string, string?> { ["HOME"] = _dir.Path, ["DOTNET_CLI_HOME"] = _dir.Path };

        var killed = 0;
        for (var round = 0; round < 3 && (await StoredBlobsAsync()).Overlaps(garbage); round++)
        {
            await using var gc = RunningProcess.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "wharf.dll"), .. args], env, _cli.WorkingDirectory);
            // Watch the run: once it is recorded, and (target > 0) once it has deleted that many objects, SIGKILL it.
            // A target of 0 kills it while it deletes manifests or claims its first blobs.
            var before = (await StoredBlobsAsync()).Count;
            var target = Random.Shared.Next(0, Math.Max(2, garbage.Count / 3));
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            while (!gc.HasExited && (await UnfinishedCliRunsAsync() <= killed || before - (await StoredBlobsAsync()).Count < target))
            {
                await Task.Delay(10, deadline.Token);
            }
            if (gc.HasExited) break; // it finished first: nothing to kill this round
            Process(gc.Id).Kill(); // SIGKILL: no finally block, no disposal, no lock released by the process itself
            await gc.WaitForExitAsync(TimeSpan.FromMinutes(1));
            killed++;

            // Whatever was cut off: every tagged image pulls whole, with its digests.
            foreach (var (reference, (manifest, blobs)) in kept)
            {
                var (repository, tag) = (reference[..reference.IndexOf(':')], reference[(reference.IndexOf(':') + 1)..]);
                var served = await _http.GetByteArrayAsync($"v2/{repository}/manifests/{tag}");
                Assert.Equal(DigestOf(Encoding.UTF8.GetBytes(manifest)), DigestOf(served));
                foreach (var blob in blobs) Assert.Equal(blob, DigestOf(await _http.GetByteArrayAsync($"v2/{repository}/blobs/{blob}")));
            }
        }
        Assert.True(killed > 0, "no collection was killed mid-run (each finished before the first object went)");
        Assert.True(await UnfinishedCliRunsAsync() >= killed, "a killed run should stay recorded without an end");

        // The next run finishes the work: what nothing references is gone, what the tags need stays.
        var last = await _cli.RunAsync([.. args[..^1], "--Wharf:Gc:BatchSize=1000"]);
        last.EnsureSuccess();
        var stored = await StoredBlobsAsync();
        Assert.Empty(stored.Intersect(garbage));
        Assert.Subset(stored, needed);
        Assert.Equal(0, await ClaimedRowsAsync()); // every claim the killed runs left was finished (object, then row)
        foreach (var (reference, (_, blobs)) in kept)
        {
            var repository = reference[..reference.IndexOf(':')];
            foreach (var blob in blobs) Assert.Equal(blob, DigestOf(await _http.GetByteArrayAsync($"v2/{repository}/blobs/{blob}")));
        }
    }

    private static System.Diagnostics.Process Process(int id) => System.Diagnostics.Process.GetProcessById(id);
}

/// <summary>The same on PostgreSQL (its own database on the shared server) and the real Ceph RGW (a prefix of its own).</summary>
public sealed class GcKillTestsOnPostgreSqlAndS3 : GcKillTests
{
    private PostgresTestDatabase? _database;

    /// <summary>Fewer than on SQLite: each step is a round trip to the server and the gateway, so the kills still land mid-run.</summary>
    protected override int Images => 30;
    private CephRgwService? _rgw;
    private string _prefix = "";

    protected override async Task<string[]> StoreArgsAsync()
    {
        _database = await PostgresService.CreateDatabaseAsync(migrated: true);
        _rgw = await CephRgwService.GetAsync();
        _prefix = _rgw.NewPrefix("gckill");
        return
        [
            "--Wharf:Database:Type=PostgreSql", $"--Wharf:Database:ConnectionString={_database.ConnectionString}", "--Wharf:Database:MigrateOnStart=true",
            .. _rgw.ServerArgs(_prefix),
        ];
    }

    protected override async Task<HashSet<string>> StoredBlobsAsync()
    {
        var keys = await _rgw!.ListKeysAsync(_prefix + "blobs/sha256/");
        return [.. keys.Select(k => k[(k.LastIndexOf('/') + 1)..]).Where(name => name.Length == 64).Select(name => "sha256:" + name)];
    }

    protected override async Task<long> ClaimedRowsAsync()
    {
        await using var connection = new Npgsql.NpgsqlConnection(_database!.ConnectionString);
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT count(*) FROM blobs WHERE state = 'deleting'");
    }

    protected override async Task DisposeStoresAsync()
    {
        if (_database is not null) await _database.DisposeAsync();
    }
}
