using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>
/// The repository's <c>./wharf</c> launcher on a fresh copy of the tree, as a new user's first steps run it:
/// <c>./wharf serve &amp;</c> and a second <c>./wharf</c> at once. The first says it is building and shows its
/// progress; the second waits for that build instead of racing it; later runs are quiet.
/// </summary>
[Trait("Category", "Launcher")]
public sealed class LauncherTests
{
    /// <summary>
    /// A first build of the whole tree: about a minute on a quiet machine, ten and more on a shared, loaded one. Generous,
    /// so load is no failure; a hung build or a second launcher that never stops waiting still is.
    /// </summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(25);

    [Fact]
    public async Task Two_launchers_at_once_on_a_fresh_tree_share_one_build_that_reports_its_progress()
    {
        await using var dir = TempDirectory.Create("wla");
        var tree = CopySourceTree(dir.CreateSubdirectory("tree"));
        var launcher = Path.Combine(tree, "wharf");
        // No terminal: the build reports plain lines; DOTNET_CLI_UI_LANGUAGE keeps MSBuild's own words in English.
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["TERM"] = "dumb",
            ["DOTNET_CLI_UI_LANGUAGE"] = "en",
            ["DOCKERHUB_USERNAME"] = null,
            ["WHARF_DATA_DIR"] = null,
        };

        await using var serve = RunningProcess.Start(launcher, ["serve", "--urls", "http://127.0.0.1:0", "--data-dir", dir.Combine("data"), "--workers", "0"], env, tree);
        await serve.WaitForAsync("building wharf, first run only", TimeSpan.FromMinutes(5));

        // The first launcher holds the build lock now: a second one waits for it, then runs on its output.
        await using var second = RunningProcess.Start(launcher, ["--version"], env, tree);
        Assert.True(await second.WaitForExitAsync(BuildTimeout) == 0, second.Describe());
        Assert.Contains("another ./wharf is building; waiting for it", second.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("building wharf", second.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot stat", second.Error, StringComparison.Ordinal);
        Assert.Matches(@"^\d+\.\d+", second.Output.Trim());

        await serve.WaitForAsync("Press Ctrl+C to stop.", BuildTimeout);
        // Progress went to stderr, one plain line per step; stdout holds only the server's own banner.
        Assert.Contains("wharf: restoring NuGet packages", serve.Error, StringComparison.Ordinal);
        Assert.Contains("wharf: built Wharf.Core", serve.Error, StringComparison.Ordinal);
        Assert.Contains("wharf: built Wharf.Cli", serve.Error, StringComparison.Ordinal);
        Assert.Matches(@"wharf: built in \d+ s", serve.Error);
        Assert.DoesNotContain("\x1b[", serve.Error, StringComparison.Ordinal);
        Assert.Matches("(?m)^Wharf is serving on http://127.0.0.1:", serve.Output);
        Assert.DoesNotContain("wharf: built", serve.Output, StringComparison.Ordinal);
        Assert.Equal(0, await serve.StopAsync());

        // Up to date: the next run builds nothing and says nothing about building.
        var third = await ExternalTool.RunAsync(launcher, ["--version"], new ToolRunOptions { Environment = env, WorkingDirectory = tree });
        Assert.True(third.ExitCode == 0, third.Describe());
        Assert.Equal("", third.StandardError);
        Assert.False(File.Exists(Path.Combine(tree, ".artifacts", "wharf", ".build-stamp.new")));
    }

    /// <summary>What the launcher builds from, copied without build output: the launcher, the props, the sources.</summary>
    private static string CopySourceTree(string destination)
    {
        var root = RepositoryRoot();
        foreach (var file in new[] { "wharf", "Directory.Build.props", "Directory.Packages.props", ".editorconfig" })
        {
            if (File.Exists(Path.Combine(root, file))) File.Copy(Path.Combine(root, file), Path.Combine(destination, file));
        }
        CopyFolder(Path.Combine(root, "src"), Path.Combine(destination, "src"));
        return destination;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.EnumerateDirectories(from))
        {
            var name = Path.GetFileName(folder);
            if (name is "bin" or "obj") continue;
            CopyFolder(folder, Path.Combine(to, name));
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "wharf")) && File.Exists(Path.Combine(dir.FullName, "Wharf.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No repository root (with ./wharf and Wharf.slnx) above {AppContext.BaseDirectory}.");
    }
}
