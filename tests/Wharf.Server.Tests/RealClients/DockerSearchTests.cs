using System.Text;
using Wharf.Testing;

namespace Wharf.Server.Tests.RealClients;

/// <summary><c>docker search 127.0.0.1:PORT/WORD</c> through the fixture's dockerd against a real Wharf: Docker's own table.</summary>
[Trait("Category", "RealClients")]
[Collection(DockerDaemonCollection.Name)]
public sealed class DockerSearchTests(DockerDaemonFixture docker)
{
    [Fact]
    public async Task Docker_Search_Lists_Matching_Public_Repositories_With_Descriptions()
    {
        using var cts = TestTimeout.Start();
        var ct = cts.Token;
        await using var server = await WharfTestServer.StartAsync();
        using var http = server.CreateClient();
        foreach (var (name, description) in new[] { ("gizmo", "Gizmo service"), ("gizmo-cli", "Command line for gizmo"), ("other", "Unrelated") })
        {
            var body = $$"""{"namespace":"acme","name":"{{name}}","visibility":"public","description":"{{description}}"}""";
            (await http.PostAsync("api/v1/repositories", new StringContent(body, Encoding.UTF8, "application/json"), ct)).EnsureSuccessStatusCode();
        }

        var result = await docker.DockerCheckedAsync(["search", "--no-trunc", $"{server.HostPort}/gizmo"], ct);
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 3, $"expected a header and two rows:{Environment.NewLine}{result.Describe()}");
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Contains("DESCRIPTION", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^acme/gizmo\s+Gizmo service\s+0\s*", lines[1]);
        Assert.Matches(@"^acme/gizmo-cli\s+Command line for gizmo\s+0\s*", lines[2]);

        var limited = await docker.DockerCheckedAsync(["search", "--limit", "1", "--format", "{{.Name}}|{{.Description}}", $"{server.HostPort}/gizmo"], ct);
        Assert.Equal("acme/gizmo|Gizmo service", limited.StandardOutput.Trim());

        var none = await docker.DockerCheckedAsync(["search", "--format", "{{.Name}}", $"{server.HostPort}/nothingmatches"], ct);
        Assert.Equal("", none.StandardOutput.Trim());
    }
}
