using System.Net;
using System.Text.Json;
using Wharf.Core;
using Wharf.Core.Digests;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Registry;

public class ReferrersTests : RegistryTestBase
{
    private const string SbomType = "application/vnd.example.sbom.v1";
    private const string SignatureConfigType = "application/vnd.example.signature.config.v1+json";

    private sealed record Artifacts(RegistryClient.PushedImage Subject, Digest Sbom, string SbomJson, Digest Signature, string SignatureJson);

    private async Task<Artifacts> PushSubjectWithTwoReferrersAsync(string repository)
    {
        var subject = await Registry.PushImageAsync(repository, "v1");
        var subjectRef = (subject.Digest, (long)Bytes(subject.Json).Length);
        var empty = Bytes("{}");
        var emptyDigest = await Registry.PushBlobAsync(repository, empty);
        var sbomLayer = Bytes("""{"sbom":true}""");
        var sbomLayerDigest = await Registry.PushBlobAsync(repository, sbomLayer);

        var sbomJson = ImageManifest((emptyDigest, empty.Length), [(sbomLayerDigest, sbomLayer.Length)],
            configMediaType: MediaTypes.OciEmpty, artifactType: SbomType, subject: subjectRef,
            annotationsJson: """{"org.opencontainers.image.created":"2024-01-01T00:00:00Z","org.example.sbom.format":"json"}""");
        using var sbomPut = await Registry.PutManifestAsync(repository, Digest.Compute(Bytes(sbomJson)).ToString(), sbomJson);
        Assert.Equal(HttpStatusCode.Created, sbomPut.StatusCode);
        Assert.Equal(subject.Digest.ToString(), Header(sbomPut, "OCI-Subject"));

        var sigConfig = Bytes("""{"signature":"config"}""");
        var sigConfigDigest = await Registry.PushBlobAsync(repository, sigConfig);
        var signatureJson = ImageManifest((sigConfigDigest, sigConfig.Length), [], configMediaType: SignatureConfigType, subject: subjectRef,
            annotationsJson: """{"org.example.signature.fingerprint":"abcd"}""");
        using var sigPut = await Registry.PutManifestAsync(repository, Digest.Compute(Bytes(signatureJson)).ToString(), signatureJson);
        Assert.Equal(HttpStatusCode.Created, sigPut.StatusCode);
        Assert.Equal(subject.Digest.ToString(), Header(sigPut, "OCI-Subject"));

        return new Artifacts(subject, Digest.Compute(Bytes(sbomJson)), sbomJson, Digest.Compute(Bytes(signatureJson)), signatureJson);
    }

    private async Task<(JsonDocument Body, HttpResponseMessage Response)> GetReferrersAsync(string path)
    {
        var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertApiVersion(response);
        Assert.Equal(MediaTypes.OciIndex, response.Content.Headers.ContentType?.MediaType);
        var body = await ReadJsonAsync(response);
        Assert.Equal(2, body.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(MediaTypes.OciIndex, body.RootElement.GetProperty("mediaType").GetString());
        return (body, response);
    }

    private static JsonElement Entry(JsonDocument body, Digest digest) =>
        body.RootElement.GetProperty("manifests").EnumerateArray().Single(m => m.GetProperty("digest").GetString() == digest.ToString());

    [Fact]
    public async Task ReferrersListsEveryArtifactWithArtifactTypeAndAnnotations()
    {
        var a = await PushSubjectWithTwoReferrersAsync("lib/app");
        var (body, response) = await GetReferrersAsync($"v2/lib/app/referrers/{a.Subject.Digest}");
        using (body)
        using (response)
        {
            Assert.Null(Header(response, "OCI-Filters-Applied"));
            Assert.Equal(2, body.RootElement.GetProperty("manifests").GetArrayLength());

            var sbom = Entry(body, a.Sbom);
            Assert.Equal(MediaTypes.OciManifest, sbom.GetProperty("mediaType").GetString());
            Assert.Equal(Bytes(a.SbomJson).Length, sbom.GetProperty("size").GetInt64());
            Assert.Equal(SbomType, sbom.GetProperty("artifactType").GetString());
            Assert.Equal("json", sbom.GetProperty("annotations").GetProperty("org.example.sbom.format").GetString());
            Assert.Equal("2024-01-01T00:00:00Z", sbom.GetProperty("annotations").GetProperty("org.opencontainers.image.created").GetString());

            var signature = Entry(body, a.Signature);
            Assert.Equal(Bytes(a.SignatureJson).Length, signature.GetProperty("size").GetInt64());
            Assert.Equal(SignatureConfigType, signature.GetProperty("artifactType").GetString());
            Assert.Equal("abcd", signature.GetProperty("annotations").GetProperty("org.example.signature.fingerprint").GetString());
        }
    }

    [Fact]
    public async Task ArtifactTypeFilterReturnsOnlyMatchesAndSaysItWasApplied()
    {
        var a = await PushSubjectWithTwoReferrersAsync("lib/app");
        var (body, response) = await GetReferrersAsync($"v2/lib/app/referrers/{a.Subject.Digest}?artifactType={Uri.EscapeDataString(SbomType)}");
        using (body)
        using (response)
        {
            Assert.Equal("artifactType", Header(response, "OCI-Filters-Applied"));
            var entry = Assert.Single(body.RootElement.GetProperty("manifests").EnumerateArray());
            Assert.Equal(a.Sbom.ToString(), entry.GetProperty("digest").GetString());
        }
        var (configFiltered, configResponse) = await GetReferrersAsync($"v2/lib/app/referrers/{a.Subject.Digest}?artifactType={Uri.EscapeDataString(SignatureConfigType)}");
        using (configFiltered)
        using (configResponse)
        {
            var entry = Assert.Single(configFiltered.RootElement.GetProperty("manifests").EnumerateArray());
            Assert.Equal(a.Signature.ToString(), entry.GetProperty("digest").GetString());
        }
        var (none, noneResponse) = await GetReferrersAsync($"v2/lib/app/referrers/{a.Subject.Digest}?artifactType=application/vnd.example.none");
        using (none)
        using (noneResponse)
        {
            Assert.Equal("artifactType", Header(noneResponse, "OCI-Filters-Applied"));
            Assert.Equal(0, none.RootElement.GetProperty("manifests").GetArrayLength());
        }
    }

    [Fact]
    public async Task ReferrersOfDigestWithoutReferrersIsEmptyIndex()
    {
        var image = await Registry.PushImageAsync("lib/app", "v1");
        foreach (var path in new[] { $"v2/lib/app/referrers/{image.Digest}", $"v2/lib/app/referrers/{Digest.Compute(Bytes("unknown"))}", $"v2/no/repo/referrers/{image.Digest}" })
        {
            var (body, response) = await GetReferrersAsync(path);
            using (body)
            using (response)
            {
                Assert.Equal(0, body.RootElement.GetProperty("manifests").GetArrayLength());
            }
        }
    }

    [Fact]
    public async Task ReferrersWithInvalidDigestIs400()
    {
        using var response = await Http.GetAsync("v2/lib/app/referrers/sha256:not-a-digest");
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var tag = await Http.GetAsync("v2/lib/app/referrers/latest");
        await AssertErrorAsync(tag, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task ReferrerPushedBeforeItsSubjectExistsIsAcceptedAndListed()
    {
        var subject = Digest.Compute(Bytes("a subject pushed later"));
        var config = Bytes("{}");
        var configDigest = await Registry.PushBlobAsync("lib/app", config);
        var json = ImageManifest((configDigest, config.Length), [], configMediaType: MediaTypes.OciEmpty, artifactType: SbomType, subject: (subject, 123));
        using var put = await Registry.PutManifestAsync("lib/app", Digest.Compute(Bytes(json)).ToString(), json);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(subject.ToString(), Header(put, "OCI-Subject"));
        var (body, response) = await GetReferrersAsync($"v2/lib/app/referrers/{subject}");
        using (body)
        using (response)
        {
            Assert.Equal(Digest.Compute(Bytes(json)).ToString(), Assert.Single(body.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("digest").GetString());
        }
    }

    [Fact]
    public async Task ReferrersAreScopedToTheRepository()
    {
        var a = await PushSubjectWithTwoReferrersAsync("lib/app");
        var (body, response) = await GetReferrersAsync($"v2/lib/other/referrers/{a.Subject.Digest}");
        using (body)
        using (response)
        {
            Assert.Equal(0, body.RootElement.GetProperty("manifests").GetArrayLength());
        }
    }

    [Fact]
    public async Task DeletedReferrerDisappearsFromTheList()
    {
        var a = await PushSubjectWithTwoReferrersAsync("lib/app");
        using (var delete = await Http.DeleteAsync($"v2/lib/app/manifests/{a.Sbom}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        var (body, response) = await GetReferrersAsync($"v2/lib/app/referrers/{a.Subject.Digest}");
        using (body)
        using (response)
        {
            Assert.Equal(a.Signature.ToString(), Assert.Single(body.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("digest").GetString());
        }
    }
}
