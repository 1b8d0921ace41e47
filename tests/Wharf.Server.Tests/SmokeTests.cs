using System.Net;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task BaseEndpointAnswersWithApiVersionHeader()
    {
        await using var server = await WharfTestServer.StartAsync(AuthMode.Open);
        using var client = server.CreateClient();
        using var response = await client.GetAsync("v2/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
    }
}
