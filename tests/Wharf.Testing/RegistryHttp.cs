using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Testing;

/// <summary>A manifest as the registry serves it: raw bytes, media type and the digest header.</summary>
public sealed record RegistryManifest(byte[] Content, string MediaType, string? DockerContentDigest)
{
    /// <summary>sha256 of the bytes served.</summary>
    public string Digest => BlobDigest.Of(Content);

    public JsonNode Json => JsonNode.Parse(Content)!;
}

/// <summary>
/// Minimal /v2 reader for assertions: GET a manifest with every known media type accepted, following the
/// Bearer token challenge (anonymous or with the endpoint's credentials) or using Basic auth.
/// </summary>
public static class RegistryHttp
{
    private static readonly string[] ManifestMediaTypes =
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ];

    public static async Task<RegistryManifest> GetManifestAsync(IRegistryEndpoint registry, string repository, string reference, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var uri = new Uri($"{registry.BaseUrl}/v2/{repository}/manifests/{reference}");
        using var response = await SendAsync(http, registry, uri, $"repository:{repository}:pull", ManifestMediaTypes, ct);
        var content = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {uri} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(content)}");
        }

        var digestHeader = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        return new RegistryManifest(content, response.Content.Headers.ContentType?.MediaType ?? "", digestHeader);
    }

    /// <summary>GETs a blob (following redirects) and checks that its content matches the digest.</summary>
    public static async Task<byte[]> GetBlobAsync(IRegistryEndpoint registry, string repository, string digest, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var uri = new Uri($"{registry.BaseUrl}/v2/{repository}/blobs/{digest}");
        using var response = await SendAsync(http, registry, uri, $"repository:{repository}:pull", [], ct);
        var content = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {uri} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(content)}");
        }

        if (BlobDigest.Of(content) != digest)
        {
            throw new HttpRequestException($"GET {uri} served content whose digest is {BlobDigest.Of(content)}.");
        }

        return content;
    }

    /// <summary>The image config of a single-platform manifest, as JSON.</summary>
    public static async Task<JsonNode> GetConfigAsync(IRegistryEndpoint registry, string repository, RegistryManifest manifest, CancellationToken ct)
        => JsonNode.Parse(await GetBlobAsync(registry, repository, (string)manifest.Json["config"]!["digest"]!, ct))!;

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, IRegistryEndpoint registry, Uri uri, string scope, string[] accept, CancellationToken ct)
    {
        AuthenticationHeaderValue? auth = null;
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            foreach (var mediaType in accept)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
            }

            request.Headers.Authorization = auth;
            var response = await http.SendAsync(request, ct);
            if (response.StatusCode != HttpStatusCode.Unauthorized || attempt > 0)
            {
                return response;
            }

            var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
            response.Dispose();
            auth = challenge?.Scheme.ToUpperInvariant() switch
            {
                "BEARER" => new AuthenticationHeaderValue("Bearer", await FetchTokenAsync(http, registry, challenge.Parameter ?? "", scope, ct)),
                "BASIC" when registry.Credentials is { } creds => BasicHeader(creds),
                _ => throw new HttpRequestException($"GET {uri} answered 401 with a challenge this helper cannot follow: {challenge}"),
            };
        }
    }

    private static async Task<string> FetchTokenAsync(HttpClient http, IRegistryEndpoint registry, string challenge, string scope, CancellationToken ct)
    {
        var parameters = ParseChallenge(challenge);
        var realm = parameters.GetValueOrDefault("realm") ?? throw new HttpRequestException($"Bearer challenge without realm: {challenge}");
        var query = new StringBuilder("?scope=").Append(Uri.EscapeDataString(parameters.GetValueOrDefault("scope") ?? scope));
        if (parameters.TryGetValue("service", out var service))
        {
            query.Append("&service=").Append(Uri.EscapeDataString(service));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(realm + query));
        if (registry.Credentials is { } creds)
        {
            request.Headers.Authorization = BasicHeader(creds);
        }

        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"Token request {request.RequestUri} answered {(int)response.StatusCode}: {body}");
        }

        var json = JsonNode.Parse(body)!;
        return (string?)json["token"] ?? (string?)json["access_token"] ?? throw new HttpRequestException($"Token response without a token: {body}");
    }

    private static AuthenticationHeaderValue BasicHeader(RegistryCredentials creds)
        => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{creds.UserName}:{creds.Password}")));

    private static Dictionary<string, string> ParseChallenge(string challenge)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < challenge.Length)
        {
            while (i < challenge.Length && (challenge[i] == ',' || challenge[i] == ' '))
            {
                i++;
            }

            var eq = challenge.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            var key = challenge[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < challenge.Length && challenge[i] == '"')
            {
                var end = challenge.IndexOf('"', i + 1);
                end = end < 0 ? challenge.Length : end;
                value = challenge[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = challenge.IndexOf(',', i);
                end = end < 0 ? challenge.Length : end;
                value = challenge[i..end].Trim();
                i = end;
            }

            result[key] = value;
        }

        return result;
    }

    /// <summary>
    /// Pushes a one-layer OCI image over <c>/v2</c> with <paramref name="http"/> (its own credentials, Basic or none):
    /// both blobs as single-request uploads, then the manifest to <paramref name="tag"/>. Returns the manifest's digest.
    /// </summary>
    public static async Task<string> PushImageAsync(HttpClient http, string repository, string tag, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"tag\":\"" + tag + "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var layer = Encoding.UTF8.GetBytes("layer of " + repository + ":" + tag);
        foreach (var blob in new[] { config, layer })
        {
            using var started = await http.PostAsync($"v2/{repository}/blobs/uploads/", null, ct);
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, $"upload start: {(int)started.StatusCode} {await started.Content.ReadAsStringAsync(ct)}");
            var location = started.Headers.Location!.ToString();
            using var body = new ByteArrayContent(blob);
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var finished = await http.PutAsync($"{location}{(location.Contains('?', StringComparison.Ordinal) ? '&' : '?')}digest={BlobDigest.Of(blob)}", body, ct);
            Assert.True(finished.StatusCode == HttpStatusCode.Created, $"upload: {(int)finished.StatusCode} {await finished.Content.ReadAsStringAsync(ct)}");
        }
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{BlobDigest.Of(config)}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{BlobDigest.Of(layer)}}","size":{{layer.Length}}}]}
            """);
        using var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var put = await http.PutAsync($"v2/{repository}/manifests/{tag}", content, ct);
        Assert.True(put.StatusCode == HttpStatusCode.Created, $"manifest: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync(ct)}");
        return BlobDigest.Of(manifest);
    }
}
