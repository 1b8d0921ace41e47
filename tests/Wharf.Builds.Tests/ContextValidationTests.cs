using Microsoft.Extensions.DependencyInjection;
using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using Wharf.Builds.Sources;

namespace Wharf.Builds.Tests;

/// <summary>Hostile or broken input to <c>POST /api/v1/builds</c> is refused with a 4xx and a message, never a 500.</summary>
[Trait("Category", "Builds")]
public sealed class ContextValidationTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static async Task ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode code, string fragment, CancellationToken ct)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == code, $"expected {code}, got {(int)response.StatusCode}: {text}");
            Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
            Assert.Contains(fragment, JsonNode.Parse(text)!["detail"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Contexts_with_escaping_paths_links_bombs_or_garbage_and_bad_names_are_refused()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--workers", "0", "--Wharf:Builds:MaxContextExpandedBytes=1048576");
        const string df = "FROM scratch\n";

        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).File("../evil", "x").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "'..' path", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).File("/etc/evil", "x").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "absolute", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).Symlink("passwd", "/etc/passwd").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "out of the context", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).Directory("sub/").Symlink("sub/up", "../../outside").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "out of the context", Ct);
        // Lexically "here/.." is the root, but "here" is a link to ".", so the chain climbs out.
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).Symlink("here", ".").Symlink("escape", "here/..").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "out of the context", Ct);

        // A tar bomb: 8 MiB of zeros compresses to a few KiB but unpacks past the 1 MiB limit.
        var bomb = new ContextArchive().File("Dockerfile", df).File("zeros", new byte[8 * 1024 * 1024]).TarGz();
        Assert.True(bomb.Length < 100_000);
        await ExpectProblemAsync(await server.SubmitContextAsync(bomb, "a/b:1", Ct), HttpStatusCode.RequestEntityTooLarge, "unpacks to more than", Ct);

        await ExpectProblemAsync(await server.SubmitContextAsync("not a tar at all, just text that goes on"u8.ToArray().Concat(new byte[600]).ToArray(), "a/b:1", Ct), HttpStatusCode.BadRequest, "tar", Ct);
        var garbageGz = new MemoryStream();
        using (var zip = new GZipStream(garbageGz, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(new byte[] { 1, 2, 3 });
        await ExpectProblemAsync(await server.SubmitContextAsync(garbageGz.ToArray(), "a/b:1", Ct), HttpStatusCode.BadRequest, "", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("other.txt", "x").Tar(), "a/b:1", Ct), HttpStatusCode.BadRequest, "no file 'Dockerfile'", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", df).Tar(), "a/b:1", Ct, new Dictionary<string, string> { ["dockerfile_path"] = "../Dockerfile" }), HttpStatusCode.BadRequest, "relative path", Ct);
        await ExpectProblemAsync(await server.SubmitContextAsync(new ContextArchive().File("Dockerfile", new byte[2 * 1024 * 1024]).Tar(), "a/b:1", Ct), HttpStatusCode.RequestEntityTooLarge, "", Ct);

        await ExpectProblemAsync(await server.SubmitDockerfileAsync(new string('#', 10 * 1024 * 1024), "a/b:1", Ct), HttpStatusCode.RequestEntityTooLarge, "larger than the limit", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "Upper/Case:1", Ct), HttpStatusCode.BadRequest, "not a valid repository name", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a//b:1", Ct), HttpStatusCode.BadRequest, "not a valid repository name", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a/b@sha256:abcd", Ct), HttpStatusCode.BadRequest, "digest", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a/b:bad tag", Ct), HttpStatusCode.BadRequest, "tag", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a/b:1", Ct, new Dictionary<string, string> { ["build_args"] = "{\"1BAD\":\"x\"}" }), HttpStatusCode.BadRequest, "build_args", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a/b:1", Ct, new Dictionary<string, string> { ["target"] = "-rm" }), HttpStatusCode.BadRequest, "target", Ct);
        await ExpectProblemAsync(await server.SubmitDockerfileAsync(df, "a/b:1", Ct, new Dictionary<string, string> { ["registry_credential"] = Guid.NewGuid().ToString() }), HttpStatusCode.BadRequest, "registry_credential", Ct);
        await ExpectProblemAsync(await server.Http.GetAsync("api/v1/builds?state=exploded", Ct), HttpStatusCode.BadRequest, "state", Ct);
        await ExpectProblemAsync(await server.Http.GetAsync("api/v1/builds?cursor=zzz", Ct), HttpStatusCode.BadRequest, "cursor", Ct);
        await ExpectProblemAsync(await server.Http.GetAsync("api/v1/builds/nope", Ct), HttpStatusCode.NotFound, "uuid", Ct);
        await ExpectProblemAsync(await server.Http.PostAsync($"api/v1/builds/{Guid.NewGuid()}/cancel", null, Ct), HttpStatusCode.NotFound, "no build", Ct);

        // Nothing refused was kept.
        var sources = Path.Combine(server.Server.DataDir, "builds", "sources");
        Assert.True(!Directory.Exists(sources) || Directory.GetDirectories(sources).Length == 0, string.Join(", ", Directory.GetDirectories(sources)));
        Assert.Empty(await server.Server.Services.GetRequiredService<Wharf.Core.Storage.ISharedFileStore>().ListAsync("builds/", Ct));
        var list = JsonNode.Parse(await server.Http.GetStringAsync("api/v1/builds", Ct))!;
        Assert.Empty(list["builds"]!.AsArray());
    }

    [Theory]
    [InlineData("a/link", "../b", true)]
    [InlineData("link", "sub/../file", true)]
    [InlineData("link", "..", false)]
    [InlineData("a/b/link", "../../../x", false)]
    [InlineData("link", "/etc/passwd", false)]
    public void Link_targets_are_resolved_against_the_links_folder(string path, string target, bool inside) =>
        Assert.Equal(inside, ContextPaths.StaysInside(path, target, new Dictionary<string, string>()));

    [Theory]
    [InlineData("./a//b/", "a/b")]
    [InlineData("a/./b", "a/b")]
    [InlineData("a/../b", null)]
    [InlineData("/abs", null)]
    [InlineData("a\\b", null)]
    public void Entry_names_normalize_or_are_refused(string name, string? expected) => Assert.Equal(expected, ContextPaths.Normalize(name));
}
