namespace Wharf.Testing;

/// <summary>
/// A running OCI registry that real clients talk to over plain HTTP on loopback:
/// the reference registry (<see cref="ReferenceRegistry"/>) or Wharf itself.
/// Disposing it stops the registry and removes its data.
/// </summary>
public interface IRegistryEndpoint : IAsyncDisposable
{
    /// <summary>"127.0.0.1:PORT", the registry part of image references.</summary>
    string HostPort { get; }

    /// <summary>"http://127.0.0.1:PORT".</summary>
    string BaseUrl { get; }

    /// <summary>User name and password the registry requires for push, or null when it allows anonymous access.</summary>
    RegistryCredentials? Credentials { get; }
}

public sealed record RegistryCredentials(string UserName, string Password)
{
    /// <summary>"user:password", as skopeo's --creds and buildah's --creds take it.</summary>
    public string AsCredsArgument => $"{UserName}:{Password}";
}

/// <summary>Adapts any running server that has a host:port to <see cref="IRegistryEndpoint"/>.</summary>
public sealed class RegistryEndpoint(IAsyncDisposable server, string hostPort, string baseUrl, RegistryCredentials? credentials = null) : IRegistryEndpoint
{
    public string HostPort { get; } = hostPort;

    public string BaseUrl { get; } = baseUrl;

    public RegistryCredentials? Credentials { get; } = credentials;

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
