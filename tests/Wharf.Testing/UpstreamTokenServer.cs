using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Wharf.Testing;

/// <summary>
/// A Docker token server for the reference registry, as Docker Hub's auth service is for Docker Hub: on
/// <c>GET /token?service=&amp;scope=</c> with the right Basic credentials it issues an ES256 JWT (the signing
/// certificate in its <c>x5c</c> header, trusted by the registry through <see cref="RootCertificateBundle"/>) granting the
/// requested actions; without them (or with wrong ones) it answers 401. Runs on a free 127.0.0.1 port.
/// </summary>
public sealed class UpstreamTokenServer : IAsyncDisposable
{
    public const string Service = "upstream-registry";
    public const string Issuer = "upstream-token-issuer";

    private readonly WebApplication _app;
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly TempDirectory _work;
    private int _issued;
    private int _refused;

    private UpstreamTokenServer(WebApplication app, ECDsa key, X509Certificate2 certificate, TempDirectory work, RegistryCredentials credentials)
    {
        _app = app;
        _key = key;
        _certificate = certificate;
        _work = work;
        Credentials = credentials;
        RootCertificateBundle = work.Combine("token-root.pem");
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Realm = address.TrimEnd('/') + "/token";
    }

    public RegistryCredentials Credentials { get; }

    /// <summary>http://127.0.0.1:PORT/token</summary>
    public string Realm { get; }

    public string RootCertificateBundle { get; }

    /// <summary>Tokens issued, and requests refused (missing or wrong credentials).</summary>
    public int Issued => Volatile.Read(ref _issued);

    public int Refused => Volatile.Read(ref _refused);

    public ReferenceRegistryTokenAuth RegistryAuth => new(Realm, Service, Issuer, RootCertificateBundle);

    public static async Task<UpstreamTokenServer> StartAsync(RegistryCredentials credentials, CancellationToken ct)
    {
        var work = TempDirectory.Create("uts");
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=upstream-token-issuer", key, HashAlgorithmName.SHA256);
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllTextAsync(work.Combine("token-root.pem"), certificate.ExportCertificatePem() + "\n", ct);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        UpstreamTokenServer? server = null;
        app.MapGet("/token", (HttpContext context) => server!.Issue(context));
        await app.StartAsync(ct);
        server = new UpstreamTokenServer(app, key, certificate, work, credentials);
        return server;
    }

    private IResult Issue(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Credentials.UserName}:{Credentials.Password}"));
        if (!string.Equals(header, expected, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _refused);
            return Results.Json(new { errors = new[] { new { code = "UNAUTHORIZED", message = "bad credentials" } } }, statusCode: 401);
        }
        var access = new JsonArray();
        foreach (var scope in context.Request.Query["scope"])
        {
            var parts = scope?.Split(':') ?? [];
            if (parts.Length < 3) continue;
            var actions = new JsonArray();
            foreach (var action in parts[^1].Split(',', StringSplitOptions.RemoveEmptyEntries)) actions.Add(action);
            access.Add(new JsonObject { ["type"] = parts[0], ["name"] = string.Join(':', parts[1..^1]), ["actions"] = actions });
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = Credentials.UserName,
            ["aud"] = Service,
            ["exp"] = now + 300,
            ["nbf"] = now - 10,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        var head = new JsonObject
        {
            ["typ"] = "JWT",
            ["alg"] = "ES256",
            ["x5c"] = new JsonArray(Convert.ToBase64String(_certificate.RawData)),
        };
        var signingInput = Base64Url(Encoding.UTF8.GetBytes(head.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var token = signingInput + "." + Base64Url(signature);
        Interlocked.Increment(ref _issued);
        return Results.Json(new JsonObject { ["token"] = token, ["access_token"] = token, ["expires_in"] = 300, ["issued_at"] = DateTimeOffset.UtcNow.ToString("O") });
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _certificate.Dispose();
        _key.Dispose();
        await _work.DisposeAsync();
    }
}
