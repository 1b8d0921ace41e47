using System.Text;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;

namespace Wharf.Core.Tests.Manifests;

public sealed class ManifestParserTests
{
    private const string ConfigDigest = "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";
    private const string LayerDigest = "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0";
    private const string LayerDigest2 = "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b";
    private const string ChildDigest = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
    private const string SubjectDigest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

    private static ManifestParseResult Parse(string json, string? contentType) => ManifestParser.Parse(Encoding.UTF8.GetBytes(json), contentType);

    private static ParsedManifest ParseValid(string json, string? contentType)
    {
        var result = Parse(json, contentType);
        Assert.True(result.IsValid, result.Error);
        Assert.Null(result.Error);
        return result.Manifest!;
    }

    private static string ParseInvalid(string json, string? contentType)
    {
        var result = Parse(json, contentType);
        Assert.False(result.IsValid);
        Assert.Null(result.Manifest);
        Assert.False(string.IsNullOrEmpty(result.Error));
        return result.Error!;
    }

    private const string OciImage = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "{{ConfigDigest}}",
            "size": 7023
          },
          "layers": [
            {
              "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
              "digest": "{{LayerDigest}}",
              "size": 32654
            },
            {
              "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
              "digest": "{{LayerDigest2}}",
              "size": 16724,
              "annotations": { "org.example.layer": "second" }
            }
          ],
          "annotations": {
            "com.example.key1": "value1",
            "com.example.key2": "value2"
          }
        }
        """;

    [Fact]
    public void ParsesOciImageManifest()
    {
        var manifest = ParseValid(OciImage, MediaTypes.OciManifest);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.False(manifest.IsIndex);
        Assert.NotNull(manifest.Config);
        Assert.Equal(MediaTypes.OciConfig, manifest.Config.MediaType);
        Assert.Equal(Digest.Parse(ConfigDigest), manifest.Config.Digest);
        Assert.Equal(7023, manifest.Config.Size);
        Assert.Equal(2, manifest.Layers.Count);
        Assert.Equal(Digest.Parse(LayerDigest), manifest.Layers[0].Digest);
        Assert.Equal(32654, manifest.Layers[0].Size);
        Assert.Equal(Digest.Parse(LayerDigest2), manifest.Layers[1].Digest);
        Assert.Contains("\"org.example.layer\"", manifest.Layers[1].AnnotationsJson, StringComparison.Ordinal);
        Assert.Empty(manifest.Manifests);
        Assert.Null(manifest.Subject);
        Assert.Null(manifest.ArtifactType);
        Assert.Equal(
            [Digest.Parse(ConfigDigest), Digest.Parse(LayerDigest), Digest.Parse(LayerDigest2)],
            manifest.RequiredBlobs.Select(d => d.Digest));
    }

    [Fact]
    public void KeepsTopLevelAnnotationsAsRawJson()
    {
        var manifest = ParseValid(OciImage, MediaTypes.OciManifest);
        Assert.NotNull(manifest.AnnotationsJson);
        using var annotations = System.Text.Json.JsonDocument.Parse(manifest.AnnotationsJson);
        Assert.Equal("value1", annotations.RootElement.GetProperty("com.example.key1").GetString());
        Assert.Equal("value2", annotations.RootElement.GetProperty("com.example.key2").GetString());
    }

    [Fact]
    public void IgnoresParametersAndCaseOfContentType()
    {
        var manifest = ParseValid(OciImage, "Application/VND.oci.image.manifest.v1+json; charset=utf-8");
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
    }

    [Fact]
    public void TakesMediaTypeFromBodyWhenContentTypeIsAbsent()
    {
        Assert.Equal(MediaTypes.OciManifest, ParseValid(OciImage, null).MediaType);
    }

    [Fact]
    public void FallsBackToOciManifestWhenNeitherBodyNorHeaderNamesAType()
    {
        var json = $$"""{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{ConfigDigest}}","size":2},"layers":[]}""";
        Assert.Equal(MediaTypes.OciManifest, ParseValid(json, null).MediaType);
    }

    [Fact]
    public void FallsBackToOciIndexWhenUntypedBodyHasManifests()
    {
        var json = $$"""{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{ChildDigest}}","size":500}]}""";
        var manifest = ParseValid(json, null);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
        Assert.True(manifest.IsIndex);
    }

    [Fact]
    public void OciManifestWithoutLayersIsAccepted()
    {
        var json = $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{{ConfigDigest}}}","size":2}}""";
        var manifest = ParseValid(json, MediaTypes.OciManifest);
        Assert.Empty(manifest.Layers);
        Assert.Single(manifest.RequiredBlobs);
    }

    [Fact]
    public void ParsesOciIndexWithPlatforms()
    {
        var json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": [
                {
                  "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "size": 7143,
                  "digest": "{{ChildDigest}}",
                  "platform": { "architecture": "ppc64le", "os": "linux" }
                },
                {
                  "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "size": 7682,
                  "digest": "{{SubjectDigest}}",
                  "platform": { "architecture": "amd64", "os": "linux" }
                }
              ],
              "annotations": { "com.example.key1": "value1" }
            }
            """;
        var manifest = ParseValid(json, MediaTypes.OciIndex);
        Assert.Equal(MediaTypes.OciIndex, manifest.MediaType);
        Assert.True(manifest.IsIndex);
        Assert.Null(manifest.Config);
        Assert.Empty(manifest.Layers);
        Assert.Empty(manifest.RequiredBlobs);
        Assert.Equal([Digest.Parse(ChildDigest), Digest.Parse(SubjectDigest)], manifest.Manifests.Select(m => m.Digest));
        Assert.Contains("ppc64le", manifest.Manifests[0].PlatformJson, StringComparison.Ordinal);
        Assert.NotNull(manifest.AnnotationsJson);
    }

    [Fact]
    public void ParsesDockerSchema2Manifest()
    {
        var json = $$"""
            {
               "schemaVersion": 2,
               "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
               "config": {
                  "mediaType": "application/vnd.docker.container.image.v1+json",
                  "size": 1469,
                  "digest": "{{ConfigDigest}}"
               },
               "layers": [
                  {
                     "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                     "size": 2814446,
                     "digest": "{{LayerDigest}}"
                  }
               ]
            }
            """;
        var manifest = ParseValid(json, MediaTypes.DockerManifest);
        Assert.Equal(MediaTypes.DockerManifest, manifest.MediaType);
        Assert.Equal(MediaTypes.DockerConfig, manifest.Config!.MediaType);
        Assert.Single(manifest.Layers);
        Assert.Equal(MediaTypes.DockerConfig, manifest.ReferrerArtifactType);
    }

    [Fact]
    public void ParsesDockerManifestList()
    {
        var json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
              "manifests": [
                {
                  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                  "size": 7143,
                  "digest": "{{ChildDigest}}",
                  "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" }
                }
              ]
            }
            """;
        var manifest = ParseValid(json, MediaTypes.DockerManifestList);
        Assert.Equal(MediaTypes.DockerManifestList, manifest.MediaType);
        Assert.True(manifest.IsIndex);
        Assert.Single(manifest.Manifests);
        Assert.Null(manifest.ReferrerArtifactType);
    }

    [Fact]
    public void DockerManifestWithoutMediaTypeFieldIsRejected()
    {
        var json = $$"""{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"{{ConfigDigest}}"},"layers":[]}""";
        ParseInvalid(json, MediaTypes.DockerManifest);
    }

    [Fact]
    public void DockerManifestWithoutLayersIsRejected()
    {
        var json = $$$"""{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"{{{ConfigDigest}}}"}}""";
        Assert.Contains("layers", ParseInvalid(json, MediaTypes.DockerManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void ParsesArtifactWithArtifactTypeAndSubject()
    {
        var json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "artifactType": "application/vnd.example.sbom.v1",
              "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "size": 2
              },
              "layers": [
                { "mediaType": "application/vnd.example.sbom.v1+json", "digest": "{{LayerDigest}}", "size": 12 }
              ],
              "subject": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "{{SubjectDigest}}",
                "size": 1234
              },
              "annotations": { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" }
            }
            """;
        var manifest = ParseValid(json, MediaTypes.OciManifest);
        Assert.Equal("application/vnd.example.sbom.v1", manifest.ArtifactType);
        Assert.Equal("application/vnd.example.sbom.v1", manifest.ReferrerArtifactType);
        Assert.NotNull(manifest.Subject);
        Assert.Equal(Digest.Parse(SubjectDigest), manifest.Subject.Digest);
        Assert.Equal(MediaTypes.OciManifest, manifest.Subject.MediaType);
        Assert.Equal(1234, manifest.Subject.Size);
        Assert.Contains("org.opencontainers.image.created", manifest.AnnotationsJson, StringComparison.Ordinal);
        Assert.DoesNotContain(manifest.RequiredBlobs, d => d.Digest == Digest.Parse(SubjectDigest));
    }

    [Fact]
    public void ReferrerArtifactTypeFallsBackToConfigMediaType()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.example.signature.config.v1+json","digest":"{{ConfigDigest}}","size":2},"layers":[]}""";
        var manifest = ParseValid(json, MediaTypes.OciManifest);
        Assert.Null(manifest.ArtifactType);
        Assert.Equal("application/vnd.example.signature.config.v1+json", manifest.ReferrerArtifactType);
    }

    [Fact]
    public void ReferrerArtifactTypeFallsBackToConfigMediaTypeWhenArtifactTypeIsEmpty()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"","config":{"mediaType":"application/vnd.example.config+json","digest":"{{ConfigDigest}}","size":2},"layers":[]}""";
        Assert.Equal("application/vnd.example.config+json", ParseValid(json, MediaTypes.OciManifest).ReferrerArtifactType);
    }

    [Fact]
    public void IndexArtifactTypeIsUsedAndIndexWithoutOneHasNone()
    {
        var withType = $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.example.bundle","manifests":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{{SubjectDigest}}}","size":3}}""";
        var without = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}""";
        Assert.Equal("application/vnd.example.bundle", ParseValid(withType, MediaTypes.OciIndex).ReferrerArtifactType);
        Assert.Equal(Digest.Parse(SubjectDigest), ParseValid(withType, MediaTypes.OciIndex).Subject!.Digest);
        Assert.Null(ParseValid(without, MediaTypes.OciIndex).ReferrerArtifactType);
    }

    [Fact]
    public void ForeignLayersAreNotRequiredBlobs()
    {
        var json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "{{ConfigDigest}}" },
              "layers": [
                {
                  "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                  "size": 1000,
                  "digest": "{{LayerDigest}}",
                  "urls": [ "http://127.0.0.1:9/v2/windows/servercore/blobs/{{LayerDigest}}" ]
                },
                { "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 10, "digest": "{{LayerDigest2}}" }
              ]
            }
            """;
        var manifest = ParseValid(json, MediaTypes.DockerManifest);
        Assert.True(manifest.Layers[0].IsForeign);
        Assert.False(manifest.Layers[1].IsForeign);
        Assert.Equal([Digest.Parse(ConfigDigest), Digest.Parse(LayerDigest2)], manifest.RequiredBlobs.Select(d => d.Digest));
    }

    [Theory]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar", true)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", true)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", true)]
    [InlineData("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", true)]
    [InlineData("application/vnd.oci.image.layer.v1.tar+gzip", false)]
    [InlineData("application/vnd.docker.image.rootfs.diff.tar.gzip", false)]
    [InlineData("application/vnd.example.anything", false)]
    public void Only_non_distributable_layers_with_urls_are_foreign(string mediaType, bool foreign)
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{ConfigDigest}}","size":2},"layers":[{"mediaType":"{{mediaType}}","digest":"{{LayerDigest}}","size":3,"urls":["http://127.0.0.1:9/layer"]}]}""";
        var manifest = ParseValid(json, MediaTypes.OciManifest);
        Assert.Equal(foreign, manifest.Layers[0].IsForeign);
        Assert.Equal(foreign ? 1 : 2, manifest.RequiredBlobs.Count());
    }

    [Fact]
    public void EmptyUrlsListDoesNotMakeLayerForeign()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{ConfigDigest}}","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{LayerDigest}}","size":3,"urls":[]}]}""";
        Assert.Equal(2, ParseValid(json, MediaTypes.OciManifest).RequiredBlobs.Count());
    }

    [Fact]
    public void AcceptsSha512Descriptors()
    {
        var sha512 = Digest.Compute([], Digest.Sha512).ToString();
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{sha512}}","size":0},"layers":[]}""";
        Assert.Equal(Digest.Sha512, ParseValid(json, MediaTypes.OciManifest).Config!.Digest.Algorithm);
    }

    [Fact]
    public void RejectsTextThatIsNotJson()
    {
        Assert.Contains("JSON", ParseInvalid("this is not json", MediaTypes.OciManifest), StringComparison.Ordinal);
        ParseInvalid("{\"schemaVersion\": 2,", MediaTypes.OciManifest);
        ParseInvalid("", MediaTypes.OciManifest);
    }

    [Fact]
    public void RejectsJsonWithComments()
    {
        ParseInvalid("/* c */" + OciImage, MediaTypes.OciManifest);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"manifest\"")]
    [InlineData("2")]
    [InlineData("null")]
    public void RejectsJsonThatIsNotAnObject(string json)
    {
        Assert.Contains("object", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("3")]
    [InlineData("\"2\"")]
    [InlineData("2.5")]
    public void RejectsSchemaVersionOtherThanTwo(string version)
    {
        var json = OciImage.Replace("\"schemaVersion\": 2", "\"schemaVersion\": " + version, StringComparison.Ordinal);
        Assert.Contains("schemaVersion", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsMissingSchemaVersion()
    {
        var json = OciImage.Replace("\"schemaVersion\": 2,", "", StringComparison.Ordinal);
        ParseInvalid(json, MediaTypes.OciManifest);
    }

    [Fact]
    public void RejectsContentTypeThatDoesNotMatchMediaType()
    {
        Assert.Contains("does not match", ParseInvalid(OciImage, MediaTypes.OciIndex), StringComparison.Ordinal);
        ParseInvalid(OciImage, MediaTypes.DockerManifest);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("application/vnd.oci.image.config.v1+json")]
    public void RejectsUnknownContentType(string contentType)
    {
        Assert.Contains("not a manifest media type", ParseInvalid(OciImage, contentType), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsUnknownMediaTypeInBody()
    {
        var json = OciImage.Replace("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"", "\"mediaType\": \"application/vnd.example.thing\"", StringComparison.Ordinal);
        ParseInvalid(json, null);
    }

    [Theory]
    [InlineData("application/vnd.docker.distribution.manifest.v1+prettyjws")]
    [InlineData("application/vnd.docker.distribution.manifest.v1+json")]
    public void RejectsDockerSchema1(string contentType)
    {
        var schema1 = """
            {
               "name": "hello-world",
               "tag": "latest",
               "architecture": "amd64",
               "fsLayers": [ { "blobSum": "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef" } ],
               "history": [ { "v1Compatibility": "{}" } ],
               "schemaVersion": 1
            }
            """;
        Assert.Contains("schema1", ParseInvalid(schema1, contentType), StringComparison.Ordinal);
        ParseInvalid(schema1, null);
    }

    [Fact]
    public void RejectsImageManifestWithoutConfig()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{LayerDigest}}","size":1}]}""";
        Assert.Contains("config", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsImageManifestWithManifestsField()
    {
        var json = OciImage.Replace("\"layers\": [", "\"manifests\": [], \"layers\": [", StringComparison.Ordinal);
        ParseInvalid(json, MediaTypes.OciManifest);
    }

    [Fact]
    public void RejectsIndexWithoutManifestsOrWithLayers()
    {
        ParseInvalid("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}""", MediaTypes.OciIndex);
        ParseInvalid("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"layers":[]}""", MediaTypes.OciIndex);
        ParseInvalid("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}}""", MediaTypes.OciIndex);
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("sha256:B5B2B2C507A0944348E0303114D8D93AAAA081732B86451D9BCE1F432A537BC7")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("")]
    public void RejectsBadDigestInDescriptor(string digest)
    {
        var json = OciImage.Replace(LayerDigest2, digest, StringComparison.Ordinal);
        Assert.Contains("layers[1].digest", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsBadDigestInConfigAndSubject()
    {
        ParseInvalid(OciImage.Replace(ConfigDigest, "sha256:1234", StringComparison.Ordinal), MediaTypes.OciManifest);
        var withBadSubject = OciImage.Replace("\"annotations\": {\n    \"com", "\"subject\": {\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"nope\",\"size\":1},\n  \"annotations\": {\n    \"com", StringComparison.Ordinal);
        Assert.NotEqual(OciImage, withBadSubject);
        Assert.Contains("subject", ParseInvalid(withBadSubject, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"12\"")]
    [InlineData("null")]
    public void RejectsNegativeOrNonIntegerSize(string size)
    {
        var json = OciImage.Replace("\"size\": 7023", "\"size\": " + size, StringComparison.Ordinal);
        Assert.Contains("config.size", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsDescriptorWithoutMediaType()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"{{ConfigDigest}}","size":2},"layers":[]}""";
        Assert.Contains("config.mediaType", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"com.example.n": 1}""")]
    [InlineData("""{"com.example.b": true}""")]
    [InlineData("""{"com.example.o": {"x": "y"}}""")]
    [InlineData("""["a"]""")]
    [InlineData("\"a\"")]
    public void RejectsNonStringAnnotations(string annotations)
    {
        var json = OciImage.Replace("\"annotations\": { \"org.example.layer\": \"second\" }", "\"annotations\": " + annotations, StringComparison.Ordinal);
        Assert.NotEqual(OciImage, json);
        Assert.Contains("annotations", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
        var topLevel = OciImage.Replace("\"annotations\": {\n    \"com.example.key1\": \"value1\",\n    \"com.example.key2\": \"value2\"\n  }", "\"annotations\": " + annotations, StringComparison.Ordinal);
        Assert.NotEqual(OciImage, topLevel);
        Assert.Contains("annotations", ParseInvalid(topLevel, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsNonStringArtifactType()
    {
        var json = OciImage.Replace("\"schemaVersion\": 2,", "\"schemaVersion\": 2, \"artifactType\": 5,", StringComparison.Ordinal);
        Assert.Contains("artifactType", ParseInvalid(json, MediaTypes.OciManifest), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData(" ")]
    public void NormalizeContentTypeStripsParameters(string input)
    {
        var normalized = ManifestParser.NormalizeContentType(input + "; charset=utf-8");
        Assert.Equal(input.Trim().Length == 0 ? "" : input, normalized);
    }

    [Fact]
    public void NormalizeContentTypeOfNothingIsNull()
    {
        Assert.Null(ManifestParser.NormalizeContentType(null));
        Assert.Null(ManifestParser.NormalizeContentType("  "));
    }
}
