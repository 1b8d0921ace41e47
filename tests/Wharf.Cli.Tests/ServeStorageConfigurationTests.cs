using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf serve</c> on S3 with a bad setting stops at once with one message that says what to fix.</summary>
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
    [InlineData("secret", "refused Wharf:Storage:S3:AccessKey/SecretKey")]
    [InlineData("bucket", "does not exist on the S3 server")]
    [InlineData("endpoint", "Cannot reach the S3 server")]
    public async Task Serve_on_a_misconfigured_bucket_stops_with_one_message(string what, string expected)
    {
        var rgw = await CephRgwService.GetAsync();
        var url = what == "endpoint" ? $"http://127.0.0.1:{ClosedPort()}" : rgw.Url;
        var bucket = what == "bucket" ? "missing-" + Guid.NewGuid().ToString("N")[..16] : rgw.Bucket;
        var secret = what == "secret" ? "not-the-secret" : rgw.SecretKey;

        // A serve that does not stop on its own is killed after a minute, failing the test.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var result = await _cli.RunAsync(["serve", "--urls", "http://127.0.0.1:0", "--data-dir", "data", "--workers", "0",
            "--Wharf:Storage:Type=S3", $"--Wharf:Storage:S3:ServiceUrl={url}", $"--Wharf:Storage:S3:Bucket={bucket}",
            $"--Wharf:Storage:S3:AccessKey={rgw.AccessKey}", $"--Wharf:Storage:S3:SecretKey={secret}"], null, timeout.Token);

        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal); // no stack trace
        Assert.DoesNotContain(secret == rgw.SecretKey ? rgw.SecretKey : "not-the-secret", result.Error, StringComparison.Ordinal);
        Assert.True(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 3, result.Describe());
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
