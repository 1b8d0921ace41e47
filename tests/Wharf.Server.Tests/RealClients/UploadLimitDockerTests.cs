using System.Net;
using Wharf.Core.Accounts;
using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Server.Tests.RealClients;

/// <summary>
/// Real <c>docker push</c> into a Wharf whose client address already has every upload session it may open: the push
/// fails at once with the registry's own sentence (429 TOOMANYREQUESTS), not with a retry loop or a bare status.
/// </summary>
[Trait("Category", "RealClients")]
[Collection(DockerDaemonCollection.Name)]
public sealed class UploadLimitDockerTests(DockerDaemonFixture docker, ITestOutputHelper output)
{
    [Fact]
    public async Task Docker_push_at_the_session_limit_fails_with_the_registrys_message()
    {
        using var cts = TestTimeout.Start(4);
        var ct = cts.Token;
        await using var server = await WharfTestServer.StartAsync(AuthMode.Open, null, "--Wharf:Registry:MaxUploadSessionsPerAddress=2");
        using var http = server.CreateClient();
        // dockerd pushes from 127.0.0.1, as this client does: two sessions left open fill the address's allowance.
        for (var i = 0; i < 2; i++)
        {
            using var post = await http.PostAsync("v2/other/app/blobs/uploads/", null, ct);
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        }

        await using var dir = TempDirectory.Create("dk-limit");
        var archive = await TestImages.Busybox().WriteDockerArchiveAsync(dir.Combine("busybox.tar"), "wharf-test/limit:1", ct);
        await docker.DockerCheckedAsync(["load", "--input", archive.Path], ct);
        var remote = $"{server.HostPort}/test/limit:1";
        await docker.DockerCheckedAsync(["tag", "wharf-test/limit:1", remote], ct);
        try
        {
            var push = await docker.DockerAsync(["push", remote], ct);
            output.WriteLine(push.Describe());
            Assert.False(push.Succeeded, "the push should have been refused");
            var said = push.StandardOutput + push.StandardError;
            Assert.Contains("toomanyrequests", said, StringComparison.Ordinal);
            Assert.Contains("too many uploads in progress: address 127.0.0.1 has 2 upload sessions open", said, StringComparison.Ordinal);
            Assert.Contains("Wharf:Registry:MaxUploadSessionsPerAddress", said, StringComparison.Ordinal);
        }
        finally
        {
            await docker.DockerAsync(["rmi", "wharf-test/limit:1", remote], CancellationToken.None);
        }
    }
}
