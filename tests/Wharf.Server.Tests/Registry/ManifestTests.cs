using System.Net;
using System.Net.Http.Headers;
using Wharf.Core;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public sealed class ManifestTests : RegistryTestBase
{
    private async Task<((Digest, long) Config, (Digest, long) Layer)> PushBlobsAsync(string repository)
    {
        var config = Bytes("""{"architecture":"amd64","os":"linux"}""");
        var layer = Bytes("layer bytes");
        return ((await Registry.PushBlobAsync(repository, config), config.Length), (await Registry.PushBlobAsync(repository, layer), layer.Length));
    }

    [Fact]
    public async Task PutByTagIs201WithLocationAndDigest()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var digest = Digest.Compute(Bytes(json));
        using var put = await Registry.PutManifestAsync("lib/app", "v1", json);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        AssertApiVersion(put);
        Assert.Equal($"/v2/lib/app/manifests/{digest}", put.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        Assert.Null(Header(put, "OCI-Subject"));
    }

    [Fact]
    public async Task GetByTagAndByDigestReturnTheExactPushedBytes()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        // Unusual whitespace, key order and escapes: the registry must not re-serialize.
        var json = $$$"""

               {   "layers" : [ {"size":{{{layer.Item2}}},   "digest":"{{{layer.Item1}}}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"} ],
            "config":{"digest":"{{{config.Item1}}}","size":{{{config.Item2}}},"mediaType":"application/vnd.oci.image.config.v1+json"},
              "annotations": {"note": "caf\u00e9 \/ tab\t"},
            "mediaType":"application/vnd.oci.image.manifest.v1+json",   "schemaVersion"   :   2 }

            """;
        var bytes = Bytes(json);
        var digest = await Registry.PushManifestAsync("lib/app", "weird", json);
        Assert.Equal(Digest.Compute(bytes), digest);

        foreach (var reference in new[] { "weird", digest.ToString() })
        {
            using var get = await Http.GetAsync($"v2/lib/app/manifests/{reference}");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            AssertApiVersion(get);
            Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync());
            Assert.Equal(MediaTypes.OciManifest, get.Content.Headers.ContentType?.ToString());
            Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
            Assert.Equal(bytes.Length, get.Content.Headers.ContentLength);
        }
    }

    [Fact]
    public async Task HeadManifestGivesLengthTypeAndDigestWithoutBody()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        foreach (var reference in new[] { "v1", image.Digest.ToString() })
        {
            using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lib/app/manifests/{reference}"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            AssertApiVersion(head);
            Assert.Equal(Bytes(image.Json).Length, head.Content.Headers.ContentLength);
            Assert.Equal(image.Digest.ToString(), Header(head, "Docker-Content-Digest"));
            Assert.Equal(MediaTypes.OciManifest, head.Content.Headers.ContentType?.ToString());
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task IfNoneMatchWithTheDigestETagAnswers304()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        using var get = await Http.GetAsync("v2/lib/app/manifests/v1");
        var etag = get.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Equal($"\"{image.Digest}\"", etag.Tag);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "v2/lib/app/manifests/v1");
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await Http.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        AssertApiVersion(notModified);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());

        using var other = new HttpRequestMessage(HttpMethod.Get, "v2/lib/app/manifests/v1");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{Digest.Compute(Bytes("x"))}\""));
        using var modified = await Http.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
    }

    [Fact]
    public async Task PutByDigestWithTagParametersAnswersOciTagAndTagsTheManifest()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var digest = Digest.Compute(Bytes(json));
        using var put = await Registry.PutManifestAsync("lib/app", $"{digest}?tag=1.2.3&tag=1.2&tag=latest", json);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        var tags = Header(put, "OCI-Tag")!.Split(',', StringSplitOptions.TrimEntries);
        Assert.Equal(["1.2.3", "1.2", "latest"], tags);
        foreach (var tag in tags)
        {
            using var get = await Http.GetAsync($"v2/lib/app/manifests/{tag}");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
        }
    }

    [Fact]
    public async Task PutByDigestWithoutTagsStoresAnUntaggedManifest()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var digest = await Registry.PushManifestAsync("lib/app", Digest.Compute(Bytes(json)).ToString(), json);
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using var tags = await Http.GetAsync("v2/lib/app/tags/list");
        using var body = await ReadJsonAsync(tags);
        Assert.Equal(0, body.RootElement.GetProperty("tags").GetArrayLength());
    }

    [Fact]
    public async Task InvalidTagParameterIsRejected()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var digest = Digest.Compute(Bytes(json));
        using var put = await Registry.PutManifestAsync("lib/app", $"{digest}?tag=-bad", json);
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{digest}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task ManifestReferencingMissingBlobIsManifestBlobUnknownAndNothingIsStored()
    {
        var (config, _) = await PushBlobsAsync("lib/app");
        var missing = Digest.Compute(Bytes("missing layer"));
        var json = ImageManifest(config, [(missing, 13)]);
        var digest = Digest.Compute(Bytes(json));
        using var put = await Registry.PutManifestAsync("lib/app", "v1", json);
        var error = await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        Assert.Equal(missing.ToString(), error.GetProperty("detail").GetProperty("digest").GetString());
        using (var byTag = await Http.GetAsync("v2/lib/app/manifests/v1")) await AssertErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using (var byDigest = await Http.GetAsync($"v2/lib/app/manifests/{digest}")) await AssertErrorAsync(byDigest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task ManifestReferencingBlobOfAnotherRepositoryIsManifestBlobUnknown()
    {
        var (config, layer) = await PushBlobsAsync("lib/other");
        using var put = await Registry.PutManifestAsync("lib/app", "v1", ImageManifest(config, [layer]));
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task ForeignLayerNeedNotBePresent()
    {
        var (config, _) = await PushBlobsAsync("lib/app");
        var foreign = Digest.Compute(Bytes("windows base"));
        var json = $$"""{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{{config.Item1}}","size":{{config.Item2}}},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{{foreign}}","size":12,"urls":["https://example.com/layer"]}]}""";
        await Registry.PushManifestAsync("lib/app", "win", json, MediaTypes.DockerManifest);
    }

    [Fact]
    public async Task IndexReferencingMissingChildIsManifestBlobUnknown()
    {
        var image = await Registry.PushImageAsync("lib/app", "amd64");
        var missing = Digest.Compute(Bytes("no such manifest"));
        using var put = await Registry.PutManifestAsync("lib/app", "multi", Index([(image.Digest, Bytes(image.Json).Length), (missing, 100)]), MediaTypes.OciIndex);
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        using var get = await Http.GetAsync("v2/lib/app/manifests/multi");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task IndexWithPresentChildrenIsStoredAndServedWithItsType()
    {
        var amd = await Registry.PushImageAsync("lib/app", "amd64", "amd");
        var arm = await Registry.PushImageAsync("lib/app", "arm64", "arm");
        var json = Index([(amd.Digest, Bytes(amd.Json).Length), (arm.Digest, Bytes(arm.Json).Length)]);
        var digest = await Registry.PushManifestAsync("lib/app", "multi", json, MediaTypes.OciIndex);
        using var get = await Http.GetAsync("v2/lib/app/manifests/multi");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(MediaTypes.OciIndex, get.Content.Headers.ContentType?.ToString());
        Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
        Assert.Equal(Bytes(json), await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DockerSchema2ManifestAndManifestListArePushedAndServedWithTheirTypes()
    {
        var config = Bytes("""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
        var layer = Bytes("docker layer");
        var configDigest = await Registry.PushBlobAsync("lib/docker", config);
        var layerDigest = await Registry.PushBlobAsync("lib/docker", layer);
        var manifest = ImageManifest((configDigest, config.Length), [(layerDigest, layer.Length)],
            configMediaType: MediaTypes.DockerConfig, mediaType: MediaTypes.DockerManifest, layerMediaType: MediaTypes.DockerLayerGzip);
        var manifestDigest = await Registry.PushManifestAsync("lib/docker", "amd64", manifest, MediaTypes.DockerManifest);
        var list = Index([(manifestDigest, Bytes(manifest).Length)], MediaTypes.DockerManifestList, MediaTypes.DockerManifest);
        var listDigest = await Registry.PushManifestAsync("lib/docker", "latest", list, MediaTypes.DockerManifestList);

        using (var get = await Http.GetAsync("v2/lib/docker/manifests/amd64"))
        {
            Assert.Equal(MediaTypes.DockerManifest, get.Content.Headers.ContentType?.ToString());
            Assert.Equal(Bytes(manifest), await get.Content.ReadAsByteArrayAsync());
        }
        using (var get = await Http.GetAsync($"v2/lib/docker/manifests/{listDigest}"))
        {
            Assert.Equal(MediaTypes.DockerManifestList, get.Content.Headers.ContentType?.ToString());
            Assert.Equal(Bytes(list), await get.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task ContentTypeParametersAreIgnoredAndTheBareTypeIsServed()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        using var put = await Registry.PutManifestAsync("lib/app", "v1", json, MediaTypes.OciManifest + "; charset=utf-8");
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var get = await Http.GetAsync("v2/lib/app/manifests/v1");
        Assert.Equal(MediaTypes.OciManifest, get.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task ManifestWithoutContentTypeTakesItsMediaTypeField()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        using var put = await Registry.PutManifestAsync("lib/app", "v1", json, mediaType: null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var get = await Http.GetAsync("v2/lib/app/manifests/v1");
        Assert.Equal(MediaTypes.OciManifest, get.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task Sha512ManifestDigestIsAccepted()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var digest = Digest.Compute(Bytes(json), Digest.Sha512);
        using var put = await Registry.PutManifestAsync("lib/app", digest.ToString(), json);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(digest.ToString(), Header(put, "Docker-Content-Digest"));
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(digest.ToString(), Header(get, "Docker-Content-Digest"));
    }

    [Theory]
    [InlineData("{not json", MediaTypes.OciManifest)]
    [InlineData("[]", MediaTypes.OciManifest)]
    [InlineData("""{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}""", MediaTypes.DockerSchema1Signed)]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}""", MediaTypes.OciManifest)]
    public async Task MalformedManifestIs400ManifestInvalid(string json, string contentType)
    {
        using var put = await Registry.PutManifestAsync("lib/app", "v1", json, contentType);
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData(MediaTypes.OciIndex)]
    public async Task WrongContentTypeIs400ManifestInvalid(string contentType)
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        using var put = await Registry.PutManifestAsync("lib/app", "v1", ImageManifest(config, [layer]), contentType);
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task DigestInUrlThatDoesNotMatchBodyIs400DigestInvalid()
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        var json = ImageManifest(config, [layer]);
        var other = Digest.Compute(Bytes(json + " "));
        using var put = await Registry.PutManifestAsync("lib/app", other.ToString(), json);
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{Digest.Compute(Bytes(json))}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData("-leading-dash")]
    [InlineData(".leading-dot")]
    [InlineData("has+plus")]
    public async Task Put_with_a_malformed_tag_is_400_but_get_and_head_are_404_manifest_unknown(string tag)
    {
        var (config, layer) = await PushBlobsAsync("lib/app");
        using var put = await Registry.PutManifestAsync("lib/app", tag, ImageManifest(config, [layer]));
        await AssertErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        // The spec lists only 404 for GET and HEAD of a manifest (the OCI conformance suite checks it).
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{tag}");
        await AssertErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lib/app/manifests/{tag}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Get_and_head_of_an_over_long_tag_are_404_manifest_unknown()
    {
        using var get = await Http.GetAsync($"v2/lib/app/manifests/{new string('t', 129)}");
        await AssertErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lib/app/manifests/{new string('t', 129)}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task InvalidDigestReferenceIs400DigestInvalid()
    {
        using var get = await Http.GetAsync("v2/lib/app/manifests/sha256:abc");
        await AssertErrorAsync(get, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task UnknownRepositoryOrManifestIs404ManifestUnknown()
    {
        using (var repo = await Http.GetAsync("v2/no/such/repo/manifests/latest")) await AssertErrorAsync(repo, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await Registry.PushImageAsync("lib/app", "v1");
        using (var tag = await Http.GetAsync("v2/lib/app/manifests/v2")) await AssertErrorAsync(tag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using (var digest = await Http.GetAsync($"v2/lib/app/manifests/{Digest.Compute(Bytes("nothing"))}")) await AssertErrorAsync(digest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v2/lib/app/manifests/v2"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        AssertApiVersion(head);
    }

    [Fact]
    public async Task ManifestIsVisibleOnlyInItsRepository()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        using var get = await Http.GetAsync($"v2/lib/other/manifests/{image.Digest}");
        await AssertErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task RetaggingMovesTheTag()
    {
        var first = await Registry.PushImageAsync("lib/app", "latest", "one");
        var second = await Registry.PushImageAsync("lib/app", "latest", "two");
        Assert.NotEqual(first.Digest, second.Digest);
        using var get = await Http.GetAsync("v2/lib/app/manifests/latest");
        Assert.Equal(second.Digest.ToString(), Header(get, "Docker-Content-Digest"));
    }
}
