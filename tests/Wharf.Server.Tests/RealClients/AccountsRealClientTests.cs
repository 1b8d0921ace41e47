using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Accounts;
using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

/// <summary>A Wharf in accounts mode with an administrator (<c>boss</c>) and a normal user (<c>alice</c>) who owns <c>alice/…</c>.</summary>
public sealed class AccountsRegistryFixture : IAsyncLifetime
{
    internal AccountsHttp Http { get; private set; } = null!;
    public WharfTestServer Server => Http.Server;
    public string PushToken { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await Http.SignUpAsync("boss");
        await Http.SignUpAsync("alice");
        PushToken = await Http.CreateAccessTokenAsync("alice", "pull", "push");
    }

    public async Task DisposeAsync() => await Http.Server.DisposeAsync();
}

/// <summary>docker, skopeo and buildah log in to Wharf (accounts mode) with a password and with a personal access token, push, and pull private images back.</summary>
[Trait("Category", "RealClients")]
[Collection(DockerDaemonCollection.Name)]
public sealed class AccountsRealClientTests(DockerDaemonFixture docker, AccountsRegistryFixture fixture, ITestOutputHelper output) : IClassFixture<AccountsRegistryFixture>
{
    private string HostPort => fixture.Server.HostPort;

    [Theory]
    [InlineData("password")]
    [InlineData("token")]
    public async Task Docker_Login_Push_Pull_Logout(string credential)
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("dka");
        var secret = credential == "password" ? AccountsHttp.Password : fixture.PushToken;
        var image = TestImages.Busybox();
        var archive = await image.WriteDockerArchiveAsync(dir.Combine("busybox.tar"), $"acct-{credential}/busybox:1", ct);
        await docker.DockerCheckedAsync(["load", "--input", archive.Path], ct);
        var remote = $"{HostPort}/alice/busybox-{credential}:1";
        await docker.DockerCheckedAsync(["tag", $"acct-{credential}/busybox:1", remote], ct);

        // Not logged in: the push into alice's namespace is refused.
        var anonymousPush = await docker.DockerAsync(["push", remote], ct);
        Assert.False(anonymousPush.Succeeded, anonymousPush.Describe());

        var login = await docker.DockerCheckedAsync(["login", "--username", "alice", "--password-stdin", HostPort], ct, standardInput: secret);
        Assert.Contains("Login Succeeded", login.StandardOutput + login.StandardError, StringComparison.Ordinal);
        try
        {
            await docker.DockerCheckedAsync(["push", remote], ct);
            await docker.DockerCheckedAsync(["rmi", remote], ct);
            var pull = await docker.DockerCheckedAsync(["pull", remote], ct);
            output.WriteLine(pull.StandardOutput);
            var run = await docker.DockerCheckedAsync(["run", "--rm", "--network", "none", remote, "echo", "hi"], ct);
            Assert.Equal("hi", run.StandardOutput.Trim());
        }
        finally
        {
            await docker.DockerCheckedAsync(["logout", HostPort], ct);
        }

        // Logged out: the private image cannot be pulled.
        await docker.DockerCheckedAsync(["rmi", remote], ct);
        var anonymousPull = await docker.DockerAsync(["pull", remote], ct);
        Assert.False(anonymousPull.Succeeded, anonymousPull.Describe());
        await docker.DockerAsync(["rmi", $"acct-{credential}/busybox:1"], ct);
    }

    [Fact]
    public async Task Docker_Login_With_A_Wrong_Password_Fails()
    {
        using var cts = TestTimeout.Start();
        var login = await docker.DockerAsync(["login", "--username", "alice", "--password-stdin", HostPort], cts.Token, standardInput: "not-the-password");
        Assert.False(login.Succeeded, login.Describe());
    }

    [Theory]
    [InlineData("password")]
    [InlineData("token")]
    public async Task Skopeo_With_Creds_Pushes_And_Pulls_A_Private_Image(string credential)
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("ska");
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 64 * 1024, Seed = credential.Length });
        var layout = await image.WriteOciLayoutAsync(dir.Combine("src"), "1", ct);
        var creds = new RegistryEndpoint(fixture.Server, HostPort, fixture.Server.BaseUrl,
            new RegistryCredentials("alice", credential == "password" ? AccountsHttp.Password : fixture.PushToken));
        var remote = $"docker://{HostPort}/alice/skopeo-{credential}:1";
        await Skopeo.CopyAsync(layout.Reference, remote, creds, ct);
        await Skopeo.CopyAsync(remote, $"oci:{dir.Combine("back")}:1", creds, ct);
        Assert.Equal(image.ManifestDigest, (await TestImages.ReadOciLayoutAsync(dir.Combine("back"), "1", ct)).ManifestDigest);

        var anonymous = await ExternalTool.RunAsync("skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", remote, $"oci:{dir.Combine("anon")}:1"], cancellationToken: ct);
        Assert.False(anonymous.Succeeded, anonymous.Describe());
        var wrong = await ExternalTool.RunAsync("skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", "--src-creds", "alice:wrong-password", remote, $"oci:{dir.Combine("wrong")}:1"], cancellationToken: ct);
        Assert.False(wrong.Succeeded, wrong.Describe());
    }

    [Fact]
    public async Task Buildah_Login_Then_Push_And_Pull_With_The_Stored_Credentials()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var dir = TempDirectory.Create("bha");
        var buildah = Buildah.In(dir);
        var authFile = dir.Combine("auth.json");
        var layout = await TestImages.Busybox().WriteOciLayoutAsync(dir.Combine("layout"), "1", ct);
        var imageId = (await buildah.RunAsync(["pull", "--quiet", layout.Reference], ct)).StandardOutput.Trim().Split('\n')[^1];

        await buildah.RunAsync(["login", "--authfile", authFile, "--tls-verify=false", "--username", "alice", "--password", fixture.PushToken, HostPort], ct);
        var stored = JsonNode.Parse(await File.ReadAllTextAsync(authFile, ct))!;
        Assert.NotNull(stored["auths"]?[HostPort]);

        var remote = $"docker://{HostPort}/alice/buildah:1";
        await buildah.RunAsync(["push", "--authfile", authFile, "--tls-verify=false", imageId, remote], ct);
        await buildah.RunAsync(["rmi", "--all", "--force"], ct);
        await buildah.RunAsync(["pull", "--quiet", "--authfile", authFile, "--tls-verify=false", remote], ct);

        await buildah.RunAsync(["logout", "--authfile", authFile, HostPort], ct);
        await buildah.RunAsync(["rmi", "--all", "--force"], ct);
        var anonymous = await buildah.TryRunAsync(["pull", "--quiet", "--authfile", authFile, "--tls-verify=false", remote], ct);
        Assert.False(anonymous.Succeeded, anonymous.Describe());
    }
}
