using System.Text.Json.Nodes;
using Wharf.Core;
using Wharf.Core.Digests;

namespace Wharf.Client.Images;

/// <summary>
/// Turns a Docker schema2 image manifest into the OCI image manifest it stands for, as <c>skopeo copy … oci:DIR:TAG</c>
/// does: an OCI image layout's index may only name OCI manifests and indexes (skopeo and umoci skip any other entry, so a
/// Docker manifest there is "no descriptor found for reference"). The config and layers stay byte for byte; only the
/// media types change, so the manifest's digest changes and every blob's stays.
/// </summary>
public static class OciManifestConversion
{
    private const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    private const string OciNondistributableLayerGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    private const string DockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

    /// <summary>The manifest as an OCI layout may hold it: OCI manifests unchanged, Docker schema2 converted.</summary>
    public static ImageManifest ForLayout(byte[] content, string mediaType)
    {
        if (mediaType != MediaTypes.DockerManifest) return new ImageManifest(content, mediaType, Digest.Compute(content));
        var converted = ToOci(content);
        return new ImageManifest(converted, MediaTypes.OciManifest, Digest.Compute(converted));
    }

    public static byte[] ToOci(byte[] dockerManifest)
    {
        if (JsonNode.Parse(dockerManifest) is not JsonObject manifest)
        {
            throw new WharfClientException(ClientErrorKind.Failure, "The Docker manifest is not a JSON object.");
        }
        manifest["mediaType"] = MediaTypes.OciManifest;
        if (manifest["config"] is JsonObject config && (string?)config["mediaType"] == MediaTypes.DockerConfig)
        {
            config["mediaType"] = MediaTypes.OciConfig;
        }
        if (manifest["layers"] is JsonArray layers)
        {
            foreach (var layer in layers.OfType<JsonObject>())
            {
                layer["mediaType"] = (string?)layer["mediaType"] switch
                {
                    MediaTypes.DockerLayerGzip => MediaTypes.OciLayerTarGzip,
                    DockerForeignLayerGzip => OciNondistributableLayerGzip,
                    DockerLayerTar => MediaTypes.OciLayerTar,
                    var other => other,
                };
            }
        }
        return System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }
}
