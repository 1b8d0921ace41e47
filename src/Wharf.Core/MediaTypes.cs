namespace Wharf.Core;

/// <summary>Every media type Wharf names, in one place.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayerTar = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string OciNonDistributableLayerTar = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public const string OciNonDistributableLayerTarGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string OciNonDistributableLayerTarZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string OctetStream = "application/octet-stream";
    public const string Json = "application/json";

    /// <summary>Manifest media types that Wharf accepts and serves.</summary>
    public static readonly IReadOnlySet<string> Manifests = new HashSet<string>(StringComparer.Ordinal)
    {
        OciManifest, OciIndex, DockerManifest, DockerManifestList,
    };

    /// <summary>
    /// Layers that may be kept out of registries and fetched from their <c>urls</c> instead (Docker's foreign layers, the
    /// OCI non-distributable ones): the only layers a manifest may reference without the registry holding them.
    /// </summary>
    public static bool IsNonDistributableLayer(string mediaType) =>
        mediaType is DockerForeignLayerGzip or OciNonDistributableLayerTar or OciNonDistributableLayerTarGzip or OciNonDistributableLayerTarZstd;

    public static bool IsIndex(string mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsImageManifest(string mediaType) => mediaType is OciManifest or DockerManifest;
}
