using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Npgsql;
using Wharf.Cli.Commands.MigrateStore;
using Wharf.Core.Accounts;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf migrate-store</c> from an embedded instance populated by real clients (SQLite and a blob folder) into a
/// PostgreSQL database and a Ceph RGW bucket: killed with kill -9 in the middle of a blob, run again, it completes; a
/// server on the target then serves every image with the same digests, the user's token logs in, search finds the
/// repository and the build is there. A target it did not start is refused.
/// </summary>
public sealed class MigrateStoreTests : IAsyncLifetime
{
    private const string User = "keeper";
    private const string Password = "keeper-password-1";
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");

    private TempDirectory _dir = null!;
    private WharfCli _cli = null!;
    private PostgresTestDatabase _target = null!;
    private string[] _targetArgs = [];
    private string _prefix = "";

    public async Task InitializeAsync()
    {
        _dir = TempDirectory.Create("migrate-store");
        _cli = new WharfCli(_dir);
        _target = await PostgresService.CreateDatabaseAsync();
        var rgw = await CephRgwService.GetAsync();
        _prefix = rgw.NewPrefix("migrate");
        _targetArgs =
        [
            "--Wharf:Database:Type=PostgreSql", $"--Wharf:Database:ConnectionString={_target.ConnectionString}",
            .. rgw.ServerArgs(_prefix),
            // S3's smallest part: the big layer is several parts, so the kill lands between them.
            "--Wharf:Storage:S3:PartSize=5242880",
        ];
    }

    public async Task DisposeAsync()
    {
        await _target.DisposeAsync();
        await _dir.DisposeAsync();
    }

    private sealed record Pushed(string Repository, string Tag, string Digest);

    [Fact]
    public async Task A_populated_instance_moves_to_postgresql_and_s3_resumes_after_kill_9_and_serves_everything_with_equal_digests()
    {
        var source = _dir.CreateSubdirectory("source");
        var (images, token, buildId) = await PopulateAsync(source);

        // A target that holds data migrate-store did not put there is refused, and left as it was.
        await using (var other = await PostgresService.CreateDatabaseAsync(migrated: true))
        {
            await using (var connection = new NpgsqlConnection(other.ConnectionString))
            {
                await connection.OpenAsync(Ct);
                await using var insert = new NpgsqlCommand("INSERT INTO namespaces (name, kind, created_at) VALUES ('someone', 'user', 0)", connection);
                await insert.ExecuteNonQueryAsync(Ct);
            }
            string[] otherArgs = [.. _targetArgs.Select(a => a.StartsWith("--Wharf:Database:ConnectionString=", StringComparison.Ordinal) ? $"--Wharf:Database:ConnectionString={other.ConnectionString}" : a)];
            var refused = await _cli.RunAsync(["migrate-store", "--from", source, .. otherArgs]);
            Assert.True(refused.ExitCode == 2, refused.Describe());
            Assert.Contains("The target database is not empty (table namespaces has rows)", refused.Error, StringComparison.Ordinal);
            Assert.Single(refused.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        // A key an earlier version kept in the data folder, not yet moved into the database, would be lost: refused.
        var legacyKey = Path.Combine(source, "keys", "dataprotection", "key-00000000-0000-0000-0000-000000000001.xml");
        Directory.CreateDirectory(Path.GetDirectoryName(legacyKey)!);
        await File.WriteAllTextAsync(legacyKey, "<key/>");
        var legacy = await _cli.RunAsync(["migrate-store", "--from", source, .. _targetArgs]);
        Assert.True(legacy.ExitCode == 2, legacy.Describe());
        Assert.Contains("start the embedded instance once with this version", legacy.Error, StringComparison.Ordinal);
        File.Delete(legacyKey);

        // The first run holds half-way through the biggest blob (several S3 parts) and is killed there with kill -9.
        var (hold, biggest) = await HoldPointAsync(source);
        await using (var first = RunningProcess.Start("dotnet", [Dll, "migrate-store", "--from", source, .. _targetArgs],
            new Dictionary<string, string?> { [StoreMigrator.HoldVariable] = hold.ToString(CultureInfo.InvariantCulture) }))
        {
            await first.WaitForAsync(StoreMigrator.HoldingLine, TimeSpan.FromMinutes(3));
            Assert.Contains("  users: 1 rows", first.Output, StringComparison.Ordinal);
            await ExternalTool.RunCheckedAsync("kill", ["-KILL", first.Id.ToString(CultureInfo.InvariantCulture)]);
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        // Nothing unverified is stored under a digest: the blob cut off half-way is not in the bucket.
        var rgw = await CephRgwService.GetAsync();
        Assert.DoesNotContain(await rgw.ListKeysAsync(_prefix + "blobs/"), k => k.EndsWith(biggest["sha256:".Length..], StringComparison.Ordinal));

        var second = await _cli.RunAsync(["migrate-store", "--from", source, .. _targetArgs]);
        Assert.True(second.ExitCode == 0, second.Describe());
        Assert.Contains("Continuing the copy an earlier run started.", second.Output, StringComparison.Ordinal);
        Assert.Contains("Done: ", second.Output, StringComparison.Ordinal);
        var third = await _cli.RunAsync(["migrate-store", "--from", source, .. _targetArgs]);
        Assert.True(third.ExitCode == 0, third.Describe());
        Assert.Contains("nothing to do", third.Output, StringComparison.Ordinal);
        // Another source (a copy of the same folder) is not mixed into a target this one filled.
        var copy = _dir.Combine("source-copy");
        CopyFolder(source, copy);
        var elsewhere = await _cli.RunAsync(["migrate-store", "--from", copy, .. _targetArgs]);
        Assert.True(elsewhere.ExitCode == 2, elsewhere.Describe());
        Assert.Contains($"The target is being filled from {source}, not from {copy}", elsewhere.Error, StringComparison.Ordinal);

        // A server on the target alone (a new, empty data folder) serves what the embedded instance held.
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, _dir.CreateSubdirectory("node"), [.. _targetArgs, "--workers", "0"], null);
        var withToken = new RegistryEndpoint(server, server.HostPort, server.BaseUrl, new RegistryCredentials(User, token));
        foreach (var image in images)
        {
            var manifest = await RegistryHttp.GetManifestAsync(withToken, image.Repository, image.Tag, Ct);
            Assert.Equal(image.Digest, manifest.DockerContentDigest);
            Assert.Equal(image.Digest, BlobDigest.Of(manifest.Content));
            foreach (var blob in BlobsOf(manifest))
            {
                Assert.Equal(blob, BlobDigest.Of(await RegistryHttp.GetBlobAsync(withToken, image.Repository, blob, Ct)));
            }
        }
        var big = images.Single(i => i.Repository == $"{User}/cranes");
        var digestFile = _dir.Combine("pulled.digest");
        await Skopeo.CopyAsync($"docker://{server.HostPort}/{big.Repository}:{big.Tag}", $"oci:{_dir.Combine("pulled")}:1", withToken, Ct, "--digestfile", digestFile);
        Assert.Equal(big.Digest, await Skopeo.ReadDigestFileAsync(digestFile, Ct));

        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{token}")));
        var me = JsonNode.Parse(await http.GetStringAsync("api/v1/user", Ct))!;
        Assert.Equal(User, me["username"]!.GetValue<string>());
        var found = JsonNode.Parse(await http.GetStringAsync("api/v1/search?q=gantry", Ct))!["results"]!.AsArray();
        Assert.Equal([$"{User}/cranes"], found.Select(r => r!["full_name"]!.GetValue<string>()));
        var build = JsonNode.Parse(await http.GetStringAsync($"api/v1/builds/{buildId}", Ct))!;
        Assert.Equal("queued", build["state"]!.GetValue<string>());
        // New rows continue after the copied ids.
        using var anonymous = server.CreateClient();
        using var signUp = await anonymous.PostAsync("api/v1/users", Json($$"""{"username":"newcomer","password":"newcomer-password-1"}"""), Ct);
        Assert.Equal(HttpStatusCode.Created, signUp.StatusCode);
    }

    /// <summary>A user, a public repository with a description, three images (one with a 16 MiB layer), a token, a queued build.</summary>
    private async Task<(List<Pushed> Images, string Token, string BuildId)> PopulateAsync(string source)
    {
        var images = new List<Pushed>();
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, source, ["--workers", "0"], null);
        using var http = server.CreateClient();
        using (var signUp = await http.PostAsync("api/v1/users", Json($$"""{"username":"{{User}}","password":"{{Password}}"}"""), Ct))
        {
            Assert.True(signUp.StatusCode == HttpStatusCode.Created, await signUp.Content.ReadAsStringAsync(Ct));
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
        using (var created = await http.PostAsync("api/v1/repositories",
            Json($$"""{"namespace":"{{User}}","name":"cranes","visibility":"public","description":"Gantry cranes of the harbour"}"""), Ct))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync(Ct));
        }
        images.Add(new($"{User}/small", "1", await RegistryHttp.PushImageAsync(http, $"{User}/small", "1", Ct)));
        images.Add(new($"{User}/small", "2", await RegistryHttp.PushImageAsync(http, $"{User}/small", "2", Ct)));
        var layout = await TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 16 * 1024 * 1024, FilesPerLayer = 1 })
            .WriteOciLayoutAsync(_dir.Combine("layout"), "1", Ct);
        var withPassword = new RegistryEndpoint(server, server.HostPort, server.BaseUrl, new RegistryCredentials(User, Password));
        await Skopeo.CopyAsync(layout.Reference, $"docker://{server.HostPort}/{User}/cranes:1", withPassword, Ct);
        images.Add(new($"{User}/cranes", "1", layout.ManifestDigest));

        string token;
        using (var made = await http.PostAsync("api/v1/tokens", Json("""{"name":"ci","scopes":["pull","push"]}"""), Ct))
        {
            var body = await made.Content.ReadAsStringAsync(Ct);
            Assert.True(made.StatusCode == HttpStatusCode.Created, body);
            token = JsonNode.Parse(body)!["token"]!.GetValue<string>();
        }
        using var form = new MultipartFormDataContent();
        var dockerfile = new ByteArrayContent(Encoding.UTF8.GetBytes("FROM scratch\nLABEL purpose=migrate-store\n"));
        dockerfile.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(dockerfile, "dockerfile", "Dockerfile");
        form.Add(new StringContent($"{User}/built:1"), "image");
        using var submitted = await http.PostAsync("api/v1/builds", form, Ct);
        var submittedBody = await submitted.Content.ReadAsStringAsync(Ct);
        Assert.True(submitted.StatusCode == HttpStatusCode.Created, submittedBody);
        return (images, token, JsonNode.Parse(submittedBody)!["id"]!.GetValue<string>());
    }

    /// <summary>The byte count, over the blobs read from the folder in digest order (manifests are rows), half-way through the biggest blob.</summary>
    private static async Task<(long Hold, string Biggest)> HoldPointAsync(string source)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(source, "wharf.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = new SqliteCommand("SELECT digest, size FROM blobs WHERE digest NOT IN (SELECT digest FROM manifests) ORDER BY digest", connection);
        var blobs = new List<(string Digest, long Size)>();
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct)) blobs.Add((reader.GetString(0), reader.GetInt64(1)));
        }
        var biggest = blobs.MaxBy(b => b.Size);
        Assert.True(biggest.Size > 10 * 1024 * 1024, $"the biggest blob has {biggest.Size} bytes");
        return (blobs.TakeWhile(b => b.Digest != biggest.Digest).Sum(b => b.Size) + biggest.Size / 2, biggest.Digest);
    }

    private static IEnumerable<string> BlobsOf(RegistryManifest manifest)
    {
        var json = JsonNode.Parse(manifest.Content)!;
        yield return json["config"]!["digest"]!.GetValue<string>();
        foreach (var layer in json["layers"]!.AsArray()) yield return layer!["digest"]!.GetValue<string>();
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.GetDirectories(from)) CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
