using System.Net;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// A cross-repository mount (<c>POST …/uploads/?mount=D&amp;from=R</c>) in the token flow: the challenge names
/// <c>repository:R:pull</c> beside the target's scope, as the reference registry does, so a client that follows the
/// challenge gets a token that mounts instead of one that always falls back to a full upload.
/// </summary>
public sealed class MountChallengeTests : IAsyncLifetime
{
    private AccountsHttp _http = null!;
    private RegistryClient.PushedImage _source = null!;
    private RegistryClient.PushedImage _private = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
        await _http.SignUpAsync("alice");
        await _http.SignUpAsync("bob");
        using var alice = _http.Basic("alice");
        _source = await new RegistryClient(alice).PushImageAsync("alice/src", "v1", "alice's");
        using var bob = _http.Basic("bob");
        _private = await new RegistryClient(bob).PushImageAsync("bob/secret", "v1", "bob's");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public async Task An_anonymous_mount_is_challenged_for_the_target_and_pull_on_the_source()
    {
        using var http = _http.Anonymous();
        using var response = await http.PostAsync($"v2/alice/dst/blobs/uploads/?mount={_source.Layer}&from=alice/src", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("scope=\"repository:alice/dst:pull,push repository:alice/src:pull\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_for_the_target_alone_is_asked_for_pull_on_the_source_and_the_token_the_challenge_names_mounts()
    {
        var targetOnly = await _http.GetTokenAsync("alice", "repository:alice/dst:pull,push");
        using (var http = _http.Bearer(targetOnly))
        using (var response = await http.PostAsync($"v2/alice/dst/blobs/uploads/?mount={_source.Layer}&from=alice/src", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var challenge = response.Headers.WwwAuthenticate.ToString();
            Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
            Assert.Contains("scope=\"repository:alice/dst:pull,push repository:alice/src:pull\"", challenge, StringComparison.Ordinal);
        }

        // What a client does with that challenge: one token for every scope it names, then the same request again.
        var both = await _http.GetTokenAsync("alice", "repository:alice/dst:pull,push", "repository:alice/src:pull");
        using var mounter = _http.Bearer(both);
        using var mount = await mounter.PostAsync($"v2/alice/dst/blobs/uploads/?mount={_source.Layer}&from=alice/src", null);
        Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        Assert.Equal(_source.Layer.ToString(), RegistryClient.Header(mount, "Docker-Content-Digest"));
    }

    [Fact]
    public async Task A_mount_from_a_repository_the_caller_may_not_pull_falls_back_to_an_upload_without_a_challenge()
    {
        var targetOnly = await _http.GetTokenAsync("alice", "repository:alice/dst:pull,push");
        using var http = _http.Bearer(targetOnly);
        using var response = await http.PostAsync($"v2/alice/dst/blobs/uploads/?mount={_private.Layer}&from=bob/secret", null);
        // Asking for a token that names bob/secret would give alice nothing more: an ordinary upload session, and no hint
        // whether bob/secret holds that blob.
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.NotNull(response.Headers.Location);
    }

    [Fact]
    public async Task A_mount_with_a_token_that_names_a_private_source_it_may_not_pull_falls_back_to_an_upload()
    {
        var asked = await _http.GetTokenAsync("alice", "repository:alice/dst:pull,push", "repository:bob/secret:pull");
        using var http = _http.Bearer(asked);
        using var response = await http.PostAsync($"v2/alice/dst/blobs/uploads/?mount={_private.Layer}&from=bob/secret", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}
