using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>Bad names, tags, archives and servers: a message that says what to do, a documented non-zero exit code, and no request sent for what can be checked locally.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wbad");
    private WharfTestServer _server = null!;
    private WharfCli _cli = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartRecordingAsync();
        _cli = new WharfCli(_dir);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _dir.DisposeAsync();
    }

    [Theory]
    [InlineData("Alice/app:1", "upper-case")]
    [InlineData("alice/../etc:1", "'..'")]
    [InlineData("alice/my app:1", "white space")]
    [InlineData("alice//app:1", "cannot be empty")]
    [InlineData("alice/app:-bad", "not a valid tag")]
    public async Task Invalid_names_and_tags_are_refused_before_any_request(string name, string hint)
    {
        foreach (var verb in new[] { "push", "pull", "inspect", "rm" })
        {
            string[] args = verb == "pull" ? [verb, name, "--server", _server.HostPort, "--to", _dir.Combine("x")] : [verb, name, "--server", _server.HostPort];
            var result = await _cli.RunAsync(args);
            Assert.True(result.ExitCode == 2, result.Describe());
            Assert.Contains(hint, result.Error);
        }
        Assert.Empty(_server.Requests!.Entries);
    }

    [Fact]
    public async Task A_tag_longer_than_128_characters_is_refused()
    {
        var result = await _cli.RunAsync("push", "alice/app:" + new string('a', 129), "--from", _dir.Path, "--server", _server.HostPort);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("at most 128", result.Error);
        Assert.Empty(_server.Requests!.Entries);

        var ok = await _cli.RunAsync("push", "alice/app:" + new string('a', 128), "--from", _dir.Path, "--server", _server.HostPort);
        Assert.DoesNotContain("at most 128", ok.Error); // fails later, on the empty folder, not on the tag
    }

    [Fact]
    public async Task A_corrupt_archive_is_refused_with_a_message_and_nothing_is_pushed()
    {
        var archive = await TestImages.RandomImage(new RandomImageOptions { Layers = 2 }).WriteDockerArchiveAsync(_dir.Combine("good.tar"), "a/b:1", CancellationToken.None);
        var bytes = await File.ReadAllBytesAsync(archive.Path);

        var truncated = _dir.Combine("truncated.tar");
        await File.WriteAllBytesAsync(truncated, bytes[..(bytes.Length / 3)]);
        var garbage = _dir.Combine("garbage.tar");
        await File.WriteAllBytesAsync(garbage, [.. Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7))]);
        var flipped = _dir.Combine("flipped.tar");
        var copy = (byte[])bytes.Clone();
        copy[1024 + 600] ^= 0xff; // inside the first layer's content: its diff_id no longer matches
        await File.WriteAllBytesAsync(flipped, copy);

        foreach (var path in new[] { truncated, garbage, flipped })
        {
            var result = await _cli.RunAsync("push", "alice/app:1", "--from", path, "--server", _server.HostPort);
            Assert.True(result.ExitCode == 2, result.Describe());
            Assert.Contains(path, result.Error);
        }
        Assert.Equal(0, _server.Requests!.Count("PUT", "/manifests/"));
    }

    [Fact]
    public async Task A_missing_file_or_an_empty_folder_says_what_from_expects()
    {
        var missing = await _cli.RunAsync("push", "alice/app:1", "--from", _dir.Combine("nope.tar"), "--server", _server.HostPort);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Error);

        var empty = await _cli.RunAsync("push", "alice/app:1", "--from", _dir.CreateSubdirectory("empty"), "--server", _server.HostPort);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("not an OCI image layout", empty.Error);
    }

    [Fact]
    public async Task A_server_that_is_down_gives_exit_code_5_and_says_so()
    {
        var port = FreePort.Next();
        var written = await TestImages.RandomImage(new RandomImageOptions { Layers = 1 }).WriteOciLayoutAsync(_dir.Combine("layout"), "1", CancellationToken.None);
        foreach (var args in new[]
        {
            new[] { "push", "alice/app:1", "--from", written.LayoutPath },
            ["pull", "alice/app:1", "--to", _dir.Combine("out")],
            ["tags", "alice/app"],
            ["inspect", "alice/app:1"],
            ["rm", "alice/app:1"],
        })
        {
            var result = await _cli.RunAsync([.. args, "--server", $"127.0.0.1:{port}"]);
            Assert.True(result.ExitCode == 5, result.Describe());
            Assert.Contains($"Cannot reach the server at http://127.0.0.1:{port}", result.Error);
        }
        var json = await _cli.RunAsync("tags", "alice/app", "--server", $"127.0.0.1:{port}", "-o", "json");
        Assert.Equal(5, (int)json.Json["error"]!["exit_code"]!);
    }

    [Fact]
    public async Task No_server_anywhere_says_how_to_name_one()
    {
        var result = await _cli.RunAsync("tags", "alice/app");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--server", result.Error);
        Assert.Contains("WHARF_SERVER", result.Error);
        Assert.Contains("wharf login", result.Error);
    }

    [Fact]
    public async Task Pulling_what_does_not_exist_exits_with_3()
    {
        var result = await _cli.RunAsync("pull", "alice/nothing:1", "--to", _dir.Combine("out"), "--server", _server.HostPort);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("alice/nothing", result.Error);
    }

    [Fact]
    public async Task Without_a_daemon_push_and_pull_say_to_use_from_and_to()
    {
        var push = await _cli.RunAsync("push", "alice/app:1", "--server", _server.HostPort);
        Assert.Equal(2, push.ExitCode);
        Assert.Contains("--from", push.Error);

        var pull = await _cli.RunAsync("pull", "alice/app:1", "--server", _server.HostPort);
        Assert.Equal(2, pull.ExitCode);
        Assert.Contains("--to", pull.Error);
    }

    [Fact]
    public async Task An_unknown_option_is_a_usage_error()
    {
        var result = await _cli.RunAsync("tags", "alice/app", "--frobnicate");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--frobnicate", result.Error);
    }
}
