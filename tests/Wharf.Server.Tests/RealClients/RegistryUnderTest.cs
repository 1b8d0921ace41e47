using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.RealClients;

/// <summary>The registry the real-client tests drive: a real Wharf on a free loopback port, with its own data folder.</summary>
public static class RegistryUnderTest
{
    public static async Task<IRegistryEndpoint> StartAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var server = await WharfTestServer.StartAsync(AuthMode.Open);
        return new RegistryEndpoint(server, server.HostPort, server.BaseUrl);
    }
}

/// <summary>One registry per test class (tests use distinct repository names). Use as <c>IClassFixture&lt;RegistryFixture&gt;</c>.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private IRegistryEndpoint? _registry;

    public IRegistryEndpoint Registry => _registry ?? throw new InvalidOperationException("The registry has not started.");

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        _registry = await RegistryUnderTest.StartAsync(cts.Token);
    }

    public async Task DisposeAsync()
    {
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
    }
}
