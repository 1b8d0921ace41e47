using System.Net;
using System.Net.Sockets;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf serve</c> as an operator starts it: a banner that says what it runs on once it listens, and one clear line
/// (no stack trace) when the port is taken.
/// </summary>
public sealed class ServeStartupTests
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "wharf.dll");

    private static Dictionary<string, string?> Environment(params (string Key, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["DOCKERHUB_USERNAME"] = null,
            ["DOCKERHUB_PASSWORD"] = null,
            ["DOCKERHUB_NAMESPACE"] = null,
            ["WHARF_DATA_DIR"] = null,
            ["ASPNETCORE_URLS"] = null,
        };
        foreach (var (key, value) in extra) env[key] = value;
        return env;
    }

    [Fact]
    public async Task Serve_prints_its_addresses_providers_data_paths_migrations_and_whether_dockerhub_pushing_is_active()
    {
        await using var dir = TempDirectory.Create("wsb");
        var data = dir.Combine("data");
        await using (var first = RunningProcess.Start("dotnet", [Dll, "serve", "--urls", "http://127.0.0.1:0", "--data-dir", data, "--workers", "0"], Environment()))
        {
            await first.WaitForAsync("Press Ctrl+C to stop.", TimeSpan.FromSeconds(60));
            var banner = first.Output;
            Assert.Matches(@"Wharf is serving on http://127\.0\.0\.1:\d+", banner);
            Assert.Matches($@"database +SQLite {Regex(Path.Combine(data, "wharf.db"))} \(schema \d{{4}}_", banner);
            Assert.Matches($@"blobs +file system under {Regex(data)}", banner);
            Assert.Matches(@"migrations +\d+ applied at this start", banner);
            Assert.Matches("accounts +accounts mode; sign-up open", banner);
            Assert.Matches("builds +no workers in this process", banner);
            Assert.Matches(@"build-push +pushes into this Wharf, under the caller's namespace \(DOCKERHUB_\* not set\)", banner);
            Assert.DoesNotContain("Now listening on", banner, StringComparison.Ordinal);
            var exitCode = await first.StopAsync();
            // 143 was System.CommandLine ending the process when stopping took over 2 s (a slow disk): see the test below.
            Assert.True(exitCode == 0, $"wharf serve exited {exitCode} on SIGTERM.\nstdout:\n{first.Output}\nstderr:\n{first.Error}");
            Assert.Contains("Wharf stopped.", first.Output, StringComparison.Ordinal);
        }

        // Started again on the same data: nothing left to migrate; with DOCKERHUB_* set, /build-push pushes to Docker Hub.
        var hub = Environment(("DOCKERHUB_USERNAME", "ci-bot"), ("DOCKERHUB_PASSWORD", "secret"), ("DOCKERHUB_NAMESPACE", "acme"));
        await using var second = RunningProcess.Start("dotnet", [Dll, "serve", "--urls", "http://127.0.0.1:0", "--data-dir", data, "--workers", "1", "--Wharf:Auth:Mode=Open"], hub);
        await second.WaitForAsync("Press Ctrl+C to stop.", TimeSpan.FromSeconds(60));
        Assert.Matches("migrations +none pending", second.Output);
        Assert.Matches("accounts +Open mode", second.Output);
        Assert.Matches("builds +1 worker, engine Buildah", second.Output);
        Assert.Matches("build-push +pushes to Docker Hub as ci-bot, namespace acme", second.Output);
        Assert.DoesNotContain("secret", second.Output, StringComparison.Ordinal);
        await second.StopAsync();
    }

    [Fact]
    public async Task Serve_on_a_busy_port_prints_one_line_that_names_the_address_and_exits_2()
    {
        await using var dir = TempDirectory.Create("wsp");
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var address = $"http://127.0.0.1:{((IPEndPoint)holder.LocalEndpoint).Port}";

        var result = await ExternalTool.RunAsync("dotnet", [Dll, "serve", "--urls", address, "--data-dir", dir.Combine("data"), "--workers", "0"],
            new ToolRunOptions { Environment = Environment(), Timeout = TimeSpan.FromMinutes(1) });

        Assert.Equal(2, result.ExitCode);
        var errorLines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(errorLines);
        Assert.StartsWith($"wharf serve: cannot listen on {address}: the port is already in use", line, StringComparison.Ordinal);
        Assert.Contains("--urls", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_stopped_by_SIGTERM_lets_an_upload_in_flight_finish_and_exits_0()
    {
        await using var dir = TempDirectory.Create("wsd");
        await using var serve = RunningProcess.Start("dotnet",
            [Dll, "serve", "--urls", "http://127.0.0.1:0", "--data-dir", dir.Combine("data"), "--workers", "0", "--Wharf:Auth:Mode=Open"], Environment());
        await serve.WaitForAsync("Press Ctrl+C to stop.", TimeSpan.FromSeconds(60));
        var address = System.Text.RegularExpressions.Regex.Match(serve.Output, @"Wharf is serving on (http://127\.0\.0\.1:\d+)").Groups[1].Value;
        using var http = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromMinutes(1) }) { BaseAddress = new Uri(address) };
        using var start = await http.PostAsync("/v2/drain/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);

        // With Expect: 100-continue the body is sent only once the server's handler reads it: the upload is then in flight.
        var body = new HeldContent(new byte[64 * 1024]);
        using var patch = new HttpRequestMessage(HttpMethod.Patch, start.Headers.Location) { Content = body };
        patch.Headers.ExpectContinue = true;
        var answer = http.SendAsync(patch);
        await body.Reading.WaitAsync(TimeSpan.FromSeconds(30));
        await ExternalTool.RunAsync("kill", ["-TERM", serve.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        // The upload outlasts System.CommandLine's two seconds after the signal, which used to end the process with 143.
        var exited = serve.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(3))) == exited)
        {
            Assert.Fail($"wharf serve exited {await exited} within 3 s of SIGTERM, with an upload in flight.\n{serve.Describe()}");
        }
        body.Release();
        using var patched = await answer;
        Assert.Equal(HttpStatusCode.Accepted, patched.StatusCode);
        Assert.Equal("0-65535", patched.Headers.GetValues("Range").Single());
        var exitCode = await exited;
        Assert.True(exitCode == 0, $"wharf serve exited {exitCode} on SIGTERM.\n{serve.Describe()}");
        Assert.Contains("Wharf stopped.", serve.Output, StringComparison.Ordinal);
    }

    /// <summary>A request body that is written only when <see cref="Release"/> is called, after the server asked for it.</summary>
    private sealed class HeldContent(byte[] bytes) : HttpContent
    {
        private readonly TaskCompletionSource _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reading => _reading.Task;

        public void Release() => _released.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            _reading.TrySetResult();
            await _released.Task;
            await stream.WriteAsync(bytes);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }

    private static string Regex(string text) => System.Text.RegularExpressions.Regex.Escape(text);
}
