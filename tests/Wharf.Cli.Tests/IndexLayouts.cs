using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>Writes several test images into one OCI layout under an OCI image index, as a multi-platform build would.</summary>
internal static class IndexLayouts
{
    /// <summary>Returns the index digest; <c>index.json</c> names the index <paramref name="tag"/>.</summary>
    public static async Task<string> WriteIndexAsync(string layout, string tag, IReadOnlyList<TestImage> images, CancellationToken ct)
    {
        var entries = new JsonArray();
        for (var i = 0; i < images.Count; i++)
        {
            var image = images[i];
            await image.WriteOciLayoutAsync(layout, $"platform-{i}", ct);
            var platform = new JsonObject { ["architecture"] = image.Architecture, ["os"] = image.Os };
            if (image.Variant is not null) platform["variant"] = image.Variant;
            entries.Add(new JsonObject
            {
                ["mediaType"] = TestImage.OciManifestMediaType,
                ["digest"] = image.ManifestDigest,
                ["size"] = image.Manifest.Length,
                ["platform"] = platform,
            });
        }
        var index = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = entries,
        }.ToJsonString());
        var digest = BlobDigest.Of(index);
        await File.WriteAllBytesAsync(Path.Combine(layout, "blobs", "sha256", BlobDigest.Hex(digest)), index, ct);
        var top = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.index.v1+json",
                ["digest"] = digest,
                ["size"] = index.Length,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
            }),
        };
        await File.WriteAllTextAsync(Path.Combine(layout, "index.json"), top.ToJsonString(), ct);
        return digest;
    }
}
