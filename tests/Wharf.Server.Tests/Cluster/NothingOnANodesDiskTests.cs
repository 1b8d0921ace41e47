using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Testing;

namespace Wharf.Server.Tests.Cluster;

/// <summary>
/// Two nodes on one PostgreSQL database, each with a data folder of its own (as on two machines): a registry token issued
/// by one is accepted by the other (one signing key, in the database), a secret encrypted by one is decrypted by the
/// other (one Data Protection key ring, in the database), a build's source uploaded to one is read by the other, and
/// neither keeps a key or a source in its data folder.
/// </summary>
public sealed class NothingOnANodesDiskTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private WharfTestServer _a = null!;
    private WharfTestServer _b = null!;

    public async Task InitializeAsync()
    {
        _a = await WharfTestServer.StartOnAsync(WharfTestProviders.PostgreSql, AuthMode.Accounts, "--workers", "0");
        _b = await _a.StartAnotherNodeWithOwnDataFolderAsync();
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [Fact]
    public async Task A_token_issued_by_one_node_is_accepted_by_the_other()
    {
        using var http = _a.CreateClient();
        using (var signUp = await http.PostAsync("api/v1/users", new StringContent("""{"username":"nodeuser","password":"node-password-1"}""", Encoding.UTF8, "application/json"), Ct))
        {
            Assert.True(signUp.IsSuccessStatusCode, await signUp.Content.ReadAsStringAsync(Ct));
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("nodeuser:node-password-1"u8.ToArray()));
        var token = JsonNode.Parse(await http.GetStringAsync("auth/token?service=wharf&scope=repository:nodeuser/app:pull,push", Ct))!["token"]!.GetValue<string>();

        using var onB = _b.CreateClient();
        onB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var tags = await onB.GetAsync("v2/nodeuser/app/tags/list", Ct);
        // Accepted: the repository does not exist yet (404 NAME_UNKNOWN), rather than a refused token (401).
        Assert.Equal(HttpStatusCode.NotFound, tags.StatusCode);
        Assert.Contains("NAME_UNKNOWN", await tags.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        AssertNoKeysOnDisk();
    }

    [Fact]
    public void A_secret_encrypted_by_one_node_is_decrypted_by_the_other()
    {
        var ciphertext = _a.Services.GetRequiredService<ISecretProtector>().Protect("robot-password-1");
        Assert.Equal("robot-password-1", _b.Services.GetRequiredService<ISecretProtector>().Unprotect(ciphertext));
        AssertNoKeysOnDisk();
    }

    [Fact]
    public async Task A_build_source_and_its_secrets_saved_on_one_node_are_read_on_the_other_and_deleted_for_both()
    {
        var id = Guid.NewGuid();
        var sources = _a.Services.GetRequiredService<IBuildSourceStore>();
        Assert.True((await sources.SaveDockerfileAsync(id, new MemoryStream("FROM scratch\nCOPY a /a\n"u8.ToArray()), Ct)).Succeeded);
        await sources.SaveSecretsAsync(id, new Dictionary<string, byte[]> { ["token"] = "s3cr3t-value"u8.ToArray() }, Ct);
        Assert.False(Directory.Exists(Path.Combine(_a.DataDir, "builds", "sources", id.ToString("N"))), "the upload is not kept on the node that took it");

        var onB = _b.Services.GetRequiredService<IBuildSourceStore>();
        Assert.Equal("FROM scratch\nCOPY a /a\n", await onB.ReadDockerfileAsync(id, BuildSourceKind.Dockerfile, "Dockerfile", Ct));
        await using (var source = await onB.OpenSourceAsync(id, BuildSourceKind.Dockerfile, Ct))
        {
            Assert.NotNull(source);
            using var reader = new StreamReader(source!);
            Assert.Equal("FROM scratch\nCOPY a /a\n", await reader.ReadToEndAsync(Ct));
        }
        Assert.Equal("s3cr3t-value"u8.ToArray(), (await onB.ReadSecretsAsync(id, Ct))!["token"]);

        await onB.DeleteAsync(id, Ct);
        Assert.Null(await sources.ReadDockerfileAsync(id, BuildSourceKind.Dockerfile, "Dockerfile", Ct));
        Assert.Null(await sources.ReadSecretsAsync(id, Ct));
    }

    private void AssertNoKeysOnDisk()
    {
        foreach (var node in (WharfTestServer[])[_a, _b])
        {
            Assert.False(Directory.Exists(Path.Combine(node.DataDir, "keys")), $"{node.DataDir}/keys exists");
        }
    }
}
