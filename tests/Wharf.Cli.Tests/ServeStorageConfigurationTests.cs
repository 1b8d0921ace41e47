using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf serve</c> and <c>wharf worker</c> on S3 with a bad setting stop at once with one line that names the provider and says what to fix.</summary>
public sealed class ServeStorageConfigurationTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("ws3");
    private WharfCli _cli = null!;

    public Task InitializeAsync()
    {
        _cli = new WharfCli(_dir) { WorkingDirectory = _dir.CreateSubdirectory("work") };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _dir.DisposeAsync();

    [Theory]
    [InlineData("serve", "secret", "refused Wharf:Storage:S3:AccessKey/SecretKey")]
    [InlineData("serve", "bucket", "does not exist on the S3 server")]
    [InlineData("serve", "endpoint", "Cannot reach the S3 server")]
    [InlineData("worker", "bucket", "does not exist on the S3 server")]
    public async Task Start_up_on_a_misconfigured_bucket_stops_with_one_line_naming_the_provider(string verb, string what, string expected)
    {
        var rgw = await CephRgwService.GetAsync();
        var url = what == "endpoint" ? $"http://127.0.0.1:{ClosedPort()}" : rgw.Url;
        var bucket = what == "bucket" ? "missing-" + Guid.NewGuid().ToString("N")[..16] : rgw.Bucket;
        var secret = what == "secret" ? "not-the-secret" : rgw.SecretKey;

        // A process that does not stop on its own is killed after 90 s, failing the test.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        string[] where = verb == "serve" ? ["--urls", "http://127.0.0.1:0", "--workers", "0"] : ["--workers", "1"];
        var result = await _cli.RunAsync([verb, .. where, "--data-dir", "data",
            "--Wharf:Storage:Type=S3", $"--Wharf:Storage:S3:ServiceUrl={url}", $"--Wharf:Storage:S3:Bucket={bucket}",
            $"--Wharf:Storage:S3:AccessKey={rgw.AccessKey}", $"--Wharf:Storage:S3:SecretKey={secret}"], null, timeout.Token);

        Assert.True(result.ExitCode == 2, result.Describe());
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr:\n" + result.Describe());
        Assert.StartsWith($"wharf {verb}: storage (s3): ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output + result.Error, StringComparison.Ordinal); // no stack trace
        Assert.DoesNotContain(secret, result.Error, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
