using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Access;
using Wharf.Core.Builds;
using Wharf.Core.Builds.Dockerfiles;

namespace Wharf.Builds.Worker;

/// <summary>The DOCKERHUB_USERNAME / DOCKERHUB_PASSWORD / DOCKERHUB_NAMESPACE settings of the earlier build service.</summary>
public sealed class DockerHubSettings(IConfiguration configuration)
{
    public string? Username => configuration["DOCKERHUB_USERNAME"] is { Length: > 0 } v ? v : null;

    public string? Password => configuration["DOCKERHUB_PASSWORD"] is { Length: > 0 } v ? v : null;

    public string? Namespace => configuration["DOCKERHUB_NAMESPACE"] is { Length: > 0 } v ? v : Username;

    /// <summary>All three are set: <c>/build-push</c> pushes to Docker Hub.</summary>
    public bool IsConfigured => Username is not null && Password is not null && Namespace is not null;
}

/// <summary>
/// Where builds push and pull, and with which credentials: Wharf itself (a short-lived internal credential for the
/// build's owner), an external registry (a stored credential, decrypted only here), or Docker Hub (DOCKERHUB_*).
/// </summary>
public sealed class RegistryTargets(
    BuildOptions options,
    IServiceProvider services,
    IInternalCredentials internalCredentials,
    IRegistryCredentialStore credentials,
    ISecretProtector protector,
    DockerHubSettings dockerHub)
{
    private string? _ownAddress;

    /// <summary>host:port of Wharf's own registry, as workers reach it.</summary>
    public string OwnAddress => _ownAddress ??= ResolveOwnAddress();

    public string Destination(BuildRecord build) => $"{build.Registry ?? OwnAddress}/{build.Repository}:{build.Tag}";

    /// <summary>Other names by which a Dockerfile may name this Wharf (<c>localhost:PORT</c> for <c>127.0.0.1:PORT</c>).</summary>
    public IReadOnlyList<string> OwnAliases()
    {
        var own = OwnAddress;
        if (!own.StartsWith("127.0.0.1:", StringComparison.Ordinal)) return [];
        var port = own["127.0.0.1:".Length..];
        return [$"localhost:{port}", $"[::1]:{port}"];
    }

    /// <summary>What builds may pull and fetch: Wharf itself, and what the operator allows.</summary>
    public BuildOriginPolicy OriginPolicy() => new(OwnAddress, OwnAliases(), options.AllowedRegistries, options.AllowedUrls);

    public bool IsInsecure(string host)
    {
        if (options.InsecureRegistries.Contains(host, StringComparer.OrdinalIgnoreCase)) return true;
        var name = host;
        if (name.StartsWith('['))
        {
            name = name[1..name.IndexOf(']', StringComparison.Ordinal)];
        }
        else if (name.LastIndexOf(':') is var colon and > 0)
        {
            name = name[..colon];
        }
        if (string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address);
    }

    public IReadOnlyList<string> InsecureHosts(BuildRecord build)
    {
        var hosts = new List<string>(options.InsecureRegistries);
        if (IsInsecure(OwnAddress))
        {
            hosts.Add(OwnAddress);
            // Dockerfiles may name the same registry as localhost:PORT.
            hosts.AddRange(OwnAliases());
        }
        if (build.Registry is { } registry && IsInsecure(registry)) hosts.Add(registry);
        // A loopback registry the operator allows builds to pull from speaks plain HTTP, as Docker assumes of loopback.
        foreach (var allowed in options.AllowedRegistries)
        {
            var host = allowed.Split('/')[0];
            if (!host.StartsWith('*') && IsInsecure(host)) hosts.Add(host);
        }
        return hosts;
    }

    /// <summary>Credentials to push the build's image, or null to push anonymously.</summary>
    public async Task<RegistryLogin?> PushLoginAsync(BuildRecord build, CancellationToken cancellationToken)
    {
        if (build.Registry is null)
        {
            return await OwnLoginAsync(build, cancellationToken);
        }
        if (build.UseDockerHubSettings && dockerHub.IsConfigured)
        {
            return new RegistryLogin(build.Registry, dockerHub.Username!, dockerHub.Password!);
        }
        var stored = await credentials.FindAsync(build.Owner, build.CredentialId, build.Registry, cancellationToken);
        if (stored is not { } found) return null;
        return new RegistryLogin(build.Registry, found.Credential.Username, protector.Unprotect(found.ProtectedSecret));
    }

    /// <summary>Credentials for base images from Wharf itself: any repository the owner may pull.</summary>
    public async Task<IReadOnlyList<RegistryLogin>> PullLoginsAsync(BuildRecord build, CancellationToken cancellationToken) =>
        await OwnLoginAsync(build, cancellationToken) is { } login ? [login] : [];

    private async Task<RegistryLogin?> OwnLoginAsync(BuildRecord build, CancellationToken cancellationToken)
    {
        if (build.Owner is null) return null;
        // Push on the target only; pull on the target and on whatever the owner may pull (base images in other
        // repositories and namespaces), judged by the access policy with the owner's permissions at each request.
        var credential = await internalCredentials.IssueForBuildAsync(build.Owner, build.Repository, options.BuildTimeout + TimeSpan.FromMinutes(5), cancellationToken);
        return credential is null ? null : new RegistryLogin(OwnAddress, credential.Username, credential.Password);
    }

    private string ResolveOwnAddress()
    {
        if (options.RegistryAddress is { Length: > 0 } configured) return configured;
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses.OrderBy(a => a.StartsWith("https", StringComparison.OrdinalIgnoreCase) ? 1 : 0))
        {
            if (!Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)) continue;
            var host = uri.Host;
            if (host is "localhost" or "0.0.0.0" or "[::]" or "::" or "[::1]") host = "127.0.0.1";
            return $"{host}:{uri.Port}";
        }
        return "127.0.0.1:5000";
    }
}
