using Wharf.Testing;

namespace Wharf.Server.Tests.Infrastructure;

/// <summary>Fast checks of the test infrastructure itself (no registry, no daemon).</summary>
[Trait("Category", "Infrastructure")]
public sealed class InfrastructureSelfTests
{
    [Fact]
    public async Task Seeded_Random_Images_Are_Reproducible_And_Layouts_Read_Back()
    {
        var options = new RandomImageOptions { Layers = 2, LayerSize = 10_000, FilesPerLayer = 3, Seed = 5, Architecture = "arm64" };
        var first = TestImages.RandomImage(options);
        var second = TestImages.RandomImage(options);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
        Assert.NotEqual(first.ManifestDigest, TestImages.RandomImage(options with { Seed = 6 }).ManifestDigest);

        await using var dir = TempDirectory.Create("it");
        var written = await first.WriteOciLayoutAsync(dir.Combine("layout"), "a", CancellationToken.None);
        await TestImages.Busybox().WriteOciLayoutAsync(dir.Combine("layout"), "b", CancellationToken.None);
        var read = await TestImages.ReadOciLayoutAsync(dir.Combine("layout"), "a", CancellationToken.None);
        Assert.Equal(written, read with { Layers = written.Layers });
        Assert.Equal(written.Layers, read.Layers);
        Assert.Equal(first.ConfigDigest, BlobDigest.Of(first.Config));

        var archive = await first.WriteDockerArchiveAsync(dir.Combine("a.tar"), "x/y:1", CancellationToken.None);
        var archiveRead = await TestImages.ReadDockerArchiveAsync(archive.Path, CancellationToken.None);
        Assert.Equal(archive.ConfigDigest, archiveRead.ConfigDigest);
        Assert.Equal(archive.DiffIds, archiveRead.DiffIds);
        Assert.Equal("x/y:1", archiveRead.RepoTag);
    }

    [Fact]
    public async Task ExternalTool_Captures_Output_And_Reports_Failures_With_The_Command_Line()
    {
        var ok = await ExternalTool.RunCheckedAsync("sh", ["-c", "echo out; echo err >&2; cat"], new ToolRunOptions { StandardInput = "in" });
        Assert.Equal("out\nin", ok.StandardOutput.TrimEnd());
        Assert.Equal("err", ok.StandardError.Trim());

        var failure = await Assert.ThrowsAsync<ExternalToolException>(() => ExternalTool.RunCheckedAsync("sh", ["-c", "echo boom >&2; exit 3"]));
        Assert.Contains("sh -c 'echo boom >&2; exit 3'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("exit code: 3", failure.Message, StringComparison.Ordinal);
        Assert.Contains("boom", failure.Message, StringComparison.Ordinal);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() =>
            ExternalTool.RunAsync("sleep", ["30"], new ToolRunOptions { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Contains("sleep 30", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireTool_Fails_Rather_Than_Skips_When_A_Tool_Is_Missing()
    {
        var ex = Assert.ThrowsAny<Exception>(() => ExternalTool.RequireTool("wharf-no-such-tool"));
        Assert.Contains("wharf-no-such-tool", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("/busybox", ExternalTool.RequireTool("busybox"), StringComparison.Ordinal);
    }
}
