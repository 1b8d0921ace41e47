using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Core;
using Wharf.Core.Digests;

namespace Wharf.Server.Tests.Registry;

/// <summary>Thin helpers over <see cref="HttpClient"/> for the distribution API: push blobs and manifests, build manifest JSON, check errors.</summary>
internal sealed class RegistryClient(HttpClient http)
{
    public HttpClient Http => http;

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Pushes a blob with POST then a monolithic PUT, and checks the 201.</summary>
    public async Task<Digest> PushBlobAsync(string repository, byte[] content, CancellationToken ct = default)
    {
        var digest = Digest.Compute(content);
        using var post = await http.PostAsync($"v2/{repository}/blobs/uploads/", null, ct);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = post.Headers.Location!;
        using var put = await http.PutAsync(WithQuery(location, "digest=" + digest), Octets(content), ct);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    public Task<Digest> PushBlobAsync(string repository, string content, CancellationToken ct = default) =>
        PushBlobAsync(repository, Bytes(content), ct);

    public async Task<HttpResponseMessage> PutManifestAsync(string repository, string reference, string json, string? mediaType = MediaTypes.OciManifest, CancellationToken ct = default)
    {
        using var content = new ByteArrayContent(Bytes(json));
        if (mediaType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return await http.PutAsync($"v2/{repository}/manifests/{reference}", content, ct);
    }

    /// <summary>Puts a manifest and checks the 201; returns its digest.</summary>
    public async Task<Digest> PushManifestAsync(string repository, string reference, string json, string mediaType = MediaTypes.OciManifest, CancellationToken ct = default)
    {
        using var response = await PutManifestAsync(repository, reference, json, mediaType, ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"PUT manifest answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        var digest = Digest.Compute(Bytes(json));
        Assert.Equal(digest.ToString(), Header(response, "Docker-Content-Digest"));
        return digest;
    }

    /// <summary>A pushed image: its manifest digest and text, and the blobs it references.</summary>
    public sealed record PushedImage(Digest Digest, string Json, Digest Config, Digest Layer);

    /// <summary>Pushes a config and one layer, then an OCI image manifest referencing them under <paramref name="reference"/>.</summary>
    public async Task<PushedImage> PushImageAsync(string repository, string reference, string salt = "x", CancellationToken ct = default)
    {
        var configBytes = Bytes($$"""{"architecture":"amd64","os":"linux","salt":"{{salt}}"}""");
        var layerBytes = Bytes("layer of " + salt);
        var config = await PushBlobAsync(repository, configBytes, ct);
        var layer = await PushBlobAsync(repository, layerBytes, ct);
        var json = ImageManifest((config, configBytes.Length), [(layer, layerBytes.Length)]);
        var digest = await PushManifestAsync(repository, reference, json, MediaTypes.OciManifest, ct);
        return new PushedImage(digest, json, config, layer);
    }

    /// <summary>An OCI image manifest as JSON text.</summary>
    public static string ImageManifest(
        (Digest Digest, long Size) config,
        IEnumerable<(Digest Digest, long Size)> layers,
        string configMediaType = MediaTypes.OciConfig,
        string? artifactType = null,
        (Digest Digest, long Size)? subject = null,
        string? annotationsJson = null,
        string mediaType = MediaTypes.OciManifest,
        string layerMediaType = MediaTypes.OciLayerTarGzip)
    {
        var builder = new StringBuilder();
        builder.Append("{\"schemaVersion\":2,\"mediaType\":\"").Append(mediaType).Append('"');
        if (artifactType is not null) builder.Append(",\"artifactType\":\"").Append(artifactType).Append('"');
        builder.Append(",\"config\":").Append(Descriptor(configMediaType, config.Digest, config.Size));
        builder.Append(",\"layers\":[").AppendJoin(',', layers.Select(l => Descriptor(layerMediaType, l.Digest, l.Size))).Append(']');
        if (subject is { } s) builder.Append(",\"subject\":").Append(Descriptor(MediaTypes.OciManifest, s.Digest, s.Size));
        if (annotationsJson is not null) builder.Append(",\"annotations\":").Append(annotationsJson);
        return builder.Append('}').ToString();
    }

    /// <summary>An OCI index (or Docker manifest list) as JSON text.</summary>
    public static string Index(IEnumerable<(Digest Digest, long Size)> children, string mediaType = MediaTypes.OciIndex, string childMediaType = MediaTypes.OciManifest)
    {
        var entries = children.Select((c, i) =>
            $$$"""{"mediaType":"{{{childMediaType}}}","digest":"{{{c.Digest}}}","size":{{{c.Size}}},"platform":{"architecture":"arch{{{i}}}","os":"linux"}}""");
        return $$"""{"schemaVersion":2,"mediaType":"{{mediaType}}","manifests":[{{string.Join(',', entries)}}]}""";
    }

    public static string Descriptor(string mediaType, Digest digest, long size) =>
        $$"""{"mediaType":"{{mediaType}}","digest":"{{digest}}","size":{{size}}}""";

    public static ByteArrayContent Octets(byte[] content)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OctetStream);
        return body;
    }

    /// <summary>Appends a query to a Location that may be relative or absolute, and may already carry a query.</summary>
    public static string WithQuery(Uri location, string query)
    {
        var text = location.OriginalString;
        if (text.StartsWith('/')) text = text[1..];
        return text + (text.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;
    }

    public static string RelativePath(Uri location)
    {
        var text = location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;
        return text.StartsWith('/') ? text[1..] : text;
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : null;

    public static void AssertApiVersion(HttpResponseMessage response) =>
        Assert.Equal("registry/2.0", Header(response, "Docker-Distribution-API-Version"));

    /// <summary>Asserts the status, the API version header and the first OCI error code of the envelope.</summary>
    public static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        AssertApiVersion(response);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(body);
        var errors = document.RootElement.GetProperty("errors");
        Assert.Equal(JsonValueKind.Array, errors.ValueKind);
        var first = errors[0];
        Assert.Equal(code, first.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.String, first.GetProperty("message").ValueKind);
        return first.Clone();
    }

    public static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync());
}
