using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Registry;

/// <summary>Each test gets its own Wharf (own data folder) and a client for it.</summary>
public abstract class RegistryTestBase : IAsyncLifetime
{
    private WharfTestServer? _server;
    private HttpClient? _http;

    internal WharfTestServer Server => _server ?? throw new InvalidOperationException("not started");
    internal HttpClient Http => _http ?? throw new InvalidOperationException("not started");
    internal RegistryClient Registry => new(Http);

    /// <summary>Extra configuration arguments for the server of every test in the class.</summary>
    protected virtual string[] ServerArgs => [];

    /// <summary>The providers the class's servers run on; a derived class per provider runs the same tests on another.</summary>
    protected virtual WharfTestProviders Providers => WharfTestProviders.Default;

    /// <summary>The server's arguments; a subclass that runs the same tests on another provider adds its own here.</summary>
    protected virtual Task<string[]> ServerArgsAsync() => Task.FromResult(ServerArgs);

    public async Task InitializeAsync()
    {
        _server = await WharfTestServer.StartOnAsync(Providers, AuthMode.Open, await ServerArgsAsync());
        _http = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }
}

/// <summary>A request body of unknown length, sent with chunked transfer encoding as docker streams layers.</summary>
internal sealed class StreamedContent(byte[] content) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        // Several writes, so the body really arrives in pieces.
        for (var i = 0; i < content.Length; i += 7) await stream.WriteAsync(content.AsMemory(i, Math.Min(7, content.Length - i)));
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
