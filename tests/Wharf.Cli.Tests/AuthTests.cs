using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// login/logout and credentialed push and pull against the reference registry behind htpasswd (Basic challenges), credentials in
/// docker's config.json or through a credential helper.
/// </summary>
public sealed class AuthTests : IAsyncLifetime
{
    private static readonly RegistryCredentials Account = new("hubuser", "s3cret-pass");
    private readonly TempDirectory _dir = TempDirectory.Create("wauth");
    private ReferenceRegistry _registry = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _registry = await ReferenceRegistry.StartAsync(new ReferenceRegistryOptions { Credentials = Account });
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        await _dir.DisposeAsync();
    }

    private Task<CliResult> LoginAsync(string password) =>
        _cli.RunAsync(["login", _registry.HostPort, "--username", Account.UserName, "--password-stdin"], password + "\n", CancellationToken.None);

    [Fact]
    public async Task Login_stores_docker_format_credentials_keeps_other_keys_and_remembers_the_server()
    {
        await File.WriteAllTextAsync(_cli.DockerConfigPath, """{"auths":{"other.example:5000":{"auth":"b3RoZXI6c2VjcmV0"}},"psFormat":"table {{.ID}}"}""");

        var login = await LoginAsync(Account.Password);

        Assert.True(login.ExitCode == 0, login.Describe());
        Assert.Contains("Login Succeeded", login.Output);
        var config = JsonNode.Parse(await File.ReadAllTextAsync(_cli.DockerConfigPath))!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Account.UserName}:{Account.Password}")), (string)config["auths"]![_registry.HostPort]!["auth"]!);
        Assert.Equal("b3RoZXI6c2VjcmV0", (string)config["auths"]!["other.example:5000"]!["auth"]!);
        Assert.Equal("table {{.ID}}", (string)config["psFormat"]!);
        var wharfConfig = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_cli.ConfigHome, "wharf", "config.json")))!;
        Assert.Equal(_registry.BaseUrl, (string)wharfConfig["server"]!);

        // docker itself accepts what was written: skopeo reads the same file format.
        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 1 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        (await _cli.RunAsync("push", "hub/app:1", "--from", written.LayoutPath)).EnsureSuccess(); // server from the last login
        await ExternalTool.RunCheckedAsync("skopeo", ["inspect", "--tls-verify=false", "--authfile", _cli.DockerConfigPath, $"docker://{_registry.HostPort}/hub/app:1"]);
        (await _cli.RunAsync("pull", "hub/app:1", "--to", _dir.Combine("back"))).EnsureSuccess();
        Assert.Equal(written.ManifestDigest, (await TestImages.ReadOciLayoutAsync(_dir.Combine("back"), "1", CancellationToken.None)).ManifestDigest);

        // The reference registry cannot delete tags: rm falls back to deleting the manifest by digest.
        (await _cli.RunAsync("rm", "hub/app:1")).EnsureSuccess();
        Assert.Equal(3, (await _cli.RunAsync("inspect", "hub/app:1")).ExitCode);

        var logout = (await _cli.RunAsync("logout", _registry.HostPort)).EnsureSuccess();
        Assert.Contains("Removed", logout.Output);
        config = JsonNode.Parse(await File.ReadAllTextAsync(_cli.DockerConfigPath))!;
        Assert.Null(config["auths"]![_registry.HostPort]);
        Assert.NotNull(config["auths"]!["other.example:5000"]);
        var denied = await _cli.RunAsync("tags", "hub/app");
        Assert.True(denied.ExitCode == 4, denied.Describe());
        Assert.Contains("wharf login", denied.Error);
    }

    [Fact]
    public async Task Login_with_a_wrong_password_exits_with_4_and_stores_nothing()
    {
        var login = await LoginAsync("wrong");

        Assert.Equal(4, login.ExitCode);
        Assert.Contains("wrong user name or password", login.Error);
        Assert.False(File.Exists(_cli.DockerConfigPath));
        Assert.False(File.Exists(Path.Combine(_cli.ConfigHome, "wharf", "config.json")));
    }

    [Fact]
    public async Task Login_without_a_password_and_without_a_terminal_says_to_use_password_stdin()
    {
        var login = await _cli.RunAsync("login", _registry.HostPort, "--username", Account.UserName);
        Assert.Equal(2, login.ExitCode);
        Assert.Contains("--password-stdin", login.Error);
    }

    [Fact]
    public async Task Pushing_to_a_protected_registry_without_login_exits_with_4()
    {
        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 1 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        var push = await _cli.RunAsync("push", $"{_registry.HostPort}/hub/app:1", "--from", written.LayoutPath);
        Assert.True(push.ExitCode == 4, push.Describe());
        Assert.Contains("wharf login", push.Error);
    }

    [Fact]
    public async Task A_credential_helper_named_by_credsStore_stores_and_supplies_the_secret()
    {
        var bin = _dir.CreateSubdirectory("bin");
        var store = _dir.Combine("helper-store.json");
        var helper = Path.Combine(bin, "docker-credential-wharftest");
        await File.WriteAllTextAsync(helper, $$"""
            #!/bin/sh
            case "$1" in
              store) cat > "{{store}}" ;;
              get) cat > /dev/null; if [ -f "{{store}}" ]; then cat "{{store}}"; else echo "credentials not found in native keychain"; exit 1; fi ;;
              erase) cat > /dev/null; rm -f "{{store}}" ;;
            esac
            """.Replace("\r", ""));
        await ExternalTool.RunCheckedAsync("chmod", ["700", helper]);
        _cli.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        await File.WriteAllTextAsync(_cli.DockerConfigPath, """{"credsStore":"wharftest"}""");

        (await LoginAsync(Account.Password)).EnsureSuccess();

        var stored = JsonNode.Parse(await File.ReadAllTextAsync(store))!;
        Assert.Equal(Account.UserName, (string)stored["Username"]!);
        Assert.Equal(Account.Password, (string)stored["Secret"]!);
        Assert.Equal(_registry.HostPort, (string)stored["ServerURL"]!);
        var config = await File.ReadAllTextAsync(_cli.DockerConfigPath);
        Assert.DoesNotContain(Account.Password, config);
        Assert.DoesNotContain("\"auth\"", config);

        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 1 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        (await _cli.RunAsync("push", "hub/helper:1", "--from", written.LayoutPath)).EnsureSuccess();

        (await _cli.RunAsync("logout")).EnsureSuccess();
        Assert.False(File.Exists(store));
    }
}
