using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Server.Tests.Accounts;
using Wharf.Testing;
using Wharf.Testing.Services;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

/// <summary>
/// Upload sessions are bounded (issue 8 #16) against a real Wharf in accounts mode: at most 3 open per user and 5 per
/// client address here, refused with 429 TOOMANYREQUESTS in the OCI envelope, counted in the database so that a second
/// node sees the same count; and a single-request upload that the client abandons leaves no bytes in storage.
/// </summary>
public abstract class UploadSessionLimitTests : IAsyncLifetime
{
    private const int PerUser = 3;
    private const int PerAddress = 5;
    private AccountsHttp _accounts = null!;

    protected abstract WharfTestProviders Providers { get; }

    /// <summary>The blob storage arguments of the server (none: the file system in its data folder).</summary>
    protected virtual Task<string[]> StorageArgsAsync() => Task.FromResult<string[]>([]);

    /// <summary>Fails when any upload data (session files, temporary files, multipart uploads) is in storage.</summary>
    protected abstract Task<string?> UploadDataLeftAsync(WharfTestServer server);

    private WharfTestServer Server => _accounts.Server;

    public async Task InitializeAsync()
    {
        string[] args = [$"--Wharf:Registry:MaxUploadSessionsPerUser={PerUser}", $"--Wharf:Registry:MaxUploadSessionsPerAddress={PerAddress}", .. await StorageArgsAsync()];
        _accounts = new AccountsHttp(await WharfTestServer.StartOnAsync(Providers, AuthMode.Accounts, args));
        foreach (var user in new[] { "alice", "bob" }) await _accounts.SignUpAsync(user);
    }

    public async Task DisposeAsync() => await _accounts.Server.DisposeAsync();

    private HttpClient As(string user, string address) => _accounts.From(address, AccountsHttp.BasicHeader(user, AccountsHttp.Password));

    private static async Task<Uri> OpenAsync(HttpClient http, string repository)
    {
        using var post = await http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        Assert.True(post.StatusCode == HttpStatusCode.Accepted, $"{(int)post.StatusCode}: {await post.Content.ReadAsStringAsync()}");
        return post.Headers.Location!;
    }

    private static async Task<string> AssertTooManyAsync(HttpClient http, string repository)
    {
        using var post = await http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        var body = await post.Content.ReadAsStringAsync();
        Assert.True(post.StatusCode == HttpStatusCode.TooManyRequests, $"{(int)post.StatusCode}: {body}");
        Assert.Equal("application/json", post.Content.Headers.ContentType?.MediaType);
        Assert.Null(post.Headers.Location);
        Assert.NotEmpty(post.Headers.GetValues("Retry-After"));
        var error = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0];
        Assert.Equal("TOOMANYREQUESTS", error.GetProperty("code").GetString());
        return error.GetProperty("message").GetString()!;
    }

    [Fact]
    public async Task A_user_at_the_limit_gets_429_from_every_address_until_a_session_is_finished_or_cancelled()
    {
        using var alice = As("alice", "127.0.0.2");
        using var aliceElsewhere = As("alice", "127.0.0.3");
        using var bob = As("bob", "127.0.0.2");
        var sessions = new List<Uri>();
        for (var i = 0; i < PerUser; i++) sessions.Add(await OpenAsync(i % 2 == 0 ? alice : aliceElsewhere, "alice/app"));

        var message = await AssertTooManyAsync(alice, "alice/app");
        Assert.Contains("user 'alice' has 3 upload sessions open", message, StringComparison.Ordinal);
        Assert.Contains("Wharf:Registry:MaxUploadSessionsPerUser", message, StringComparison.Ordinal);
        await AssertTooManyAsync(aliceElsewhere, "alice/app");
        await OpenAsync(bob, "bob/app"); // another user on the same address still has room

        // A single-request upload makes no session, so it is not refused.
        var whole = Bytes("whole");
        using (var post = await alice.PostAsync($"v2/alice/app/blobs/uploads/?digest={Digest.Compute(whole)}", Octets(whole)))
        {
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        }

        using (var cancel = await alice.DeleteAsync(sessions[0])) Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        sessions[0] = await OpenAsync(alice, "alice/app");
        await AssertTooManyAsync(alice, "alice/app");

        var content = Bytes("finished");
        using (var put = await alice.PutAsync(WithQuery(sessions[1], "digest=" + Digest.Compute(content)), Octets(content)))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        await OpenAsync(aliceElsewhere, "alice/app");
        await AssertTooManyAsync(aliceElsewhere, "alice/app");
    }

    [Fact]
    public async Task An_address_at_the_limit_is_refused_for_every_user_on_it_and_no_refused_session_stays_in_storage()
    {
        using var alice = As("alice", "127.0.0.4");
        using var bob = As("bob", "127.0.0.4");
        using var bobElsewhere = As("bob", "127.0.0.5");
        for (var i = 0; i < PerUser; i++) await OpenAsync(alice, "alice/app");
        for (var i = 0; i < PerAddress - PerUser; i++) await OpenAsync(bob, "bob/app");

        var message = await AssertTooManyAsync(bob, "bob/app");
        Assert.Contains("address 127.0.0.4 has 5 upload sessions open", message, StringComparison.Ordinal);
        Assert.Contains("Wharf:Registry:MaxUploadSessionsPerAddress", message, StringComparison.Ordinal);
        await OpenAsync(bobElsewhere, "bob/app");

        // Ten refusals later, storage holds the six admitted sessions and nothing of the refused ones.
        for (var i = 0; i < 10; i++) await AssertTooManyAsync(bob, "bob/app");
        var index = Server.Services.GetRequiredService<IUploadSessionIndex>();
        var counts = await index.CountOpenAsync(new UploadOpener("bob", "127.0.0.4"), DateTimeOffset.UtcNow.AddHours(-1), CancellationToken.None);
        Assert.Equal(new UploadSessionCounts(3, 5), counts);
        Assert.Equal(6, await OpenSessionsInStorageAsync());
    }

    /// <summary>Two nodes on one database (only PostgreSQL has several): each counts the sessions opened on the other.</summary>
    protected async Task SecondNodeCountsTheSessionsOfTheFirstAsync()
    {
        await using var other = await Server.StartAnotherNodeAsync();
        var onOther = new AccountsHttp(other);
        using var aliceHere = As("alice", "127.0.0.6");
        using var aliceThere = onOther.From("127.0.0.7", AccountsHttp.BasicHeader("alice", AccountsHttp.Password));
        await OpenAsync(aliceHere, "alice/app");
        await OpenAsync(aliceHere, "alice/app");
        var third = await OpenAsync(aliceThere, "alice/app");

        await AssertTooManyAsync(aliceThere, "alice/app");
        await AssertTooManyAsync(aliceHere, "alice/app");
        using (var cancel = await aliceThere.DeleteAsync(third)) Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        await OpenAsync(aliceHere, "alice/app");
    }

    [Fact]
    public async Task A_single_request_upload_the_client_abandons_leaves_no_data_in_storage()
    {
        const int size = 20 * 1024 * 1024; // more than one S3 part: a multipart upload is under way when the client goes
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        var digest = Digest.Compute(content);
        var server = new Uri(Server.BaseUrl);

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            var stream = client.GetStream();
            var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice:{AccountsHttp.Password}"));
            var head = $"POST /v2/alice/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {server.Authority}\r\n" +
                       $"Authorization: Basic {credentials}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(content.AsMemory(0, 12 * 1024 * 1024));
            await stream.FlushAsync();
            client.Client.LingerState = new LingerOption(true, 0); // a reset, as a killed client's kernel sends
        }

        // The server notices the reset and cleans up on its own time: wait (bounded) until nothing is left.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string? left;
        while ((left = await UploadDataLeftAsync(Server)) is not null && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(left is null, left);
        Assert.Null(await Server.Services.GetRequiredService<IBlobStore>().StatAsync(digest, CancellationToken.None));

        // And the same upload sent whole afterwards is stored.
        using var alice = As("alice", "127.0.0.8");
        using var post = await alice.PostAsync($"v2/alice/app/blobs/uploads/?digest={digest}", Octets(content));
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
    }

    /// <summary>How many sessions the upload store holds (each one answers a status GET).</summary>
    private async Task<int> OpenSessionsInStorageAsync() => await CountStoredSessionsAsync(Server);

    protected abstract Task<int> CountStoredSessionsAsync(WharfTestServer server);
}

/// <summary>SQLite metadata, blobs on the file system (what <c>wharf serve</c> runs by default).</summary>
public sealed class UploadSessionLimitTestsOnFileSystem : UploadSessionLimitTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.Default;

    protected override Task<string?> UploadDataLeftAsync(WharfTestServer server)
    {
        var files = new[] { "uploads", "tmp" }
            .Select(folder => Path.Combine(server.DataDir, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            .ToList();
        return Task.FromResult(files.Count == 0 ? null : "left on disk: " + string.Join(", ", files));
    }

    protected override Task<int> CountStoredSessionsAsync(WharfTestServer server)
    {
        var uploads = Path.Combine(server.DataDir, "uploads");
        return Task.FromResult(Directory.Exists(uploads) ? Directory.EnumerateDirectories(uploads).Count() : 0);
    }
}

/// <summary>PostgreSQL metadata, blobs and sessions on the real Ceph RGW (S3).</summary>
public sealed class UploadSessionLimitTestsOnS3AndPostgreSql : UploadSessionLimitTests
{
    private string _prefix = "";

    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;

    [Fact]
    public Task A_second_node_on_the_same_database_counts_the_sessions_opened_on_the_first() => SecondNodeCountsTheSessionsOfTheFirstAsync();

    protected override async Task<string[]> StorageArgsAsync()
    {
        var rgw = await CephRgwService.GetAsync();
        _prefix = rgw.NewPrefix("limits");
        return rgw.ServerArgs(_prefix);
    }

    protected override async Task<string?> UploadDataLeftAsync(WharfTestServer server)
    {
        var rgw = await CephRgwService.GetAsync();
        var keys = await rgw.ListKeysAsync(_prefix + "uploads/");
        var multipart = await rgw.ListMultipartUploadsAsync(_prefix);
        return keys.Count == 0 && multipart.Count == 0 ? null : $"left in the bucket: keys [{string.Join(", ", keys)}], multipart uploads [{string.Join(", ", multipart)}]";
    }

    protected override async Task<int> CountStoredSessionsAsync(WharfTestServer server)
    {
        var rgw = await CephRgwService.GetAsync();
        var keys = await rgw.ListKeysAsync(_prefix + "uploads/");
        return keys.Select(k => k[(_prefix.Length + "uploads/".Length)..].Split('/')[0]).Distinct().Count();
    }
}
