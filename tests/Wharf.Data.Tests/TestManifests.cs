using System.Text;
using Wharf.Core;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;
using Wharf.Core.Registry;

namespace Wharf.Data.Tests;

/// <summary>Builds manifests from real JSON text through <see cref="ManifestParser"/>.</summary>
internal static class TestManifests
{
    public static Digest BlobDigest(string name) => Digest.Compute(Encoding.UTF8.GetBytes("blob:" + name));

    public static NewManifest FromJson(string json, string? contentType = null)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var result = ManifestParser.Parse(bytes, contentType);
        Assert.True(result.IsValid, result.Error);
        return new NewManifest(Digest.Compute(bytes), result.Manifest!.MediaType, bytes, result.Manifest);
    }

    /// <summary>An OCI image manifest; <paramref name="salt"/> goes into an annotation to vary the digest.</summary>
    public static NewManifest Image(
        Digest config,
        IReadOnlyList<Digest> layers,
        Digest? subject = null,
        string? artifactType = null,
        string configMediaType = MediaTypes.OciConfig,
        string? salt = null)
    {
        var builder = new StringBuilder();
        // Deliberately odd spacing: the store must keep the bytes exactly.
        builder.Append("{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"").Append(MediaTypes.OciManifest).Append("\",\n");
        if (artifactType is not null) builder.Append("  \"artifactType\":\"").Append(artifactType).Append("\",\n");
        builder.Append("  \"config\": {\"mediaType\": \"").Append(configMediaType).Append("\", \"digest\": \"").Append(config).Append("\", \"size\": 7},\n");
        builder.Append("  \"layers\": [");
        for (var i = 0; i < layers.Count; i++)
        {
            if (i > 0) builder.Append(',');
            builder.Append("\n    {\"mediaType\": \"").Append(MediaTypes.OciLayerTarGzip).Append("\", \"digest\": \"").Append(layers[i]).Append("\", \"size\": 100}");
        }
        builder.Append("]");
        if (subject is { } s)
        {
            builder.Append(",\n  \"subject\": {\"mediaType\": \"").Append(MediaTypes.OciManifest).Append("\", \"digest\": \"").Append(s).Append("\", \"size\": 10}");
        }
        builder.Append(",\n  \"annotations\": {\"org.example.salt\": \"").Append(salt ?? "none").Append("\"}");
        builder.Append("\n}\n");
        return FromJson(builder.ToString());
    }

    public static NewManifest Index(IReadOnlyList<Digest> children, string? salt = null)
    {
        var builder = new StringBuilder();
        builder.Append("{\"schemaVersion\":2,\"mediaType\":\"").Append(MediaTypes.OciIndex).Append("\",\"manifests\":[");
        for (var i = 0; i < children.Count; i++)
        {
            if (i > 0) builder.Append(',');
            builder.Append("{\"mediaType\":\"").Append(MediaTypes.OciManifest).Append("\",\"digest\":\"").Append(children[i])
                .Append("\",\"size\":300,\"platform\":{\"architecture\":\"amd").Append(i).Append("\",\"os\":\"linux\"}}");
        }
        builder.Append("],\"annotations\":{\"salt\":\"").Append(salt ?? "none").Append("\"}}");
        return FromJson(builder.ToString());
    }
}
