using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>
/// The administrators' names, <c>library/…</c> and one-component names, start public as Docker Hub's official images do, so
/// every user's builds and pulls can use the base images an administrator pushed; other namespaces keep the default.
/// </summary>
public sealed class LibraryVisibilityTests
{
    [Fact]
    public async Task Pushed_and_created_library_and_root_repositories_are_public_and_a_users_are_private()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--workers", "0");
        var http = new AccountsHttp(server);
        await http.SignUpAsync("boss");
        await http.SignUpAsync("alice");
        using var boss = http.Basic("boss");
        using var alice = http.Basic("alice");
        await new RegistryClient(boss).PushImageAsync("library/base", "1");
        await new RegistryClient(boss).PushImageAsync("base", "1");
        await new RegistryClient(alice).PushImageAsync("alice/app", "1");
        using (var created = await boss.PostAsJsonAsync("api/v1/repositories", new { @namespace = "library", name = "tools" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("public", (string?)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["visibility"]);
        }

        using var anonymous = http.Anonymous();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("v2/library/base/manifests/1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("v2/base/manifests/1")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("v2/alice/app/manifests/1")).StatusCode);
        Assert.Equal("private", (string?)JsonNode.Parse(await alice.GetStringAsync("api/v1/repositories/alice/app"))!["visibility"]);

        // An administrator may still make one private.
        using (var patch = await boss.PatchAsJsonAsync("api/v1/repositories/library/base", new { visibility = "private" }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("v2/library/base/manifests/1")).StatusCode);
    }

    [Fact]
    public async Task With_PublicLibrary_off_library_repositories_get_the_default_visibility()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, "--workers", "0", "--Wharf:Auth:PublicLibrary=false");
        var http = new AccountsHttp(server);
        await http.SignUpAsync("boss");
        using var boss = http.Basic("boss");
        await new RegistryClient(boss).PushImageAsync("library/base", "1");
        using var anonymous = http.Anonymous();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("v2/library/base/manifests/1")).StatusCode);
    }
}
