using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Cluster;

/// <summary>
/// The scale-out set of <see cref="WharfCluster"/> as users meet it: real docker and skopeo through nginx, a chunked
/// upload whose PATCHes alternate between the nodes, a tag moved on one node read at once on the other, a build
/// submitted on node A, run by the worker and followed live from node B, and node A killed with kill -9 in the middle
/// of a push, the push retried through nginx, and the restarted node serving everything at once.
/// </summary>
[Collection(DockerDaemonCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterTests(DockerDaemonFixture docker) : IAsyncLifetime
{
    private readonly WharfCluster _cluster = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(10));
    private readonly TempDirectory _dir = TempDirectory.Create("cluster-t");

    private CancellationToken Ct => _timeout.Token;

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _dir.DisposeAsync();
        _timeout.Dispose();
    }

    private IRegistryEndpoint Endpoint => new ClusterEndpoint(_cluster.Address, _cluster.Admin);

    [Fact]
    public async Task The_set_behind_nginx_serves_real_clients_shares_uploads_tags_builds_and_survives_a_node_killed_mid_push()
    {
        try
        {
            await Docker_and_skopeo_push_and_pull_through_nginx_with_their_digests_intact();
            await A_chunked_upload_whose_patches_alternate_between_the_nodes_completes_with_its_digest();
            await A_tag_moved_on_node_A_is_read_at_once_on_node_B();
            await A_build_submitted_on_node_A_runs_on_the_worker_and_is_followed_live_from_node_B();
            await A_node_killed_mid_push_the_push_retried_through_nginx_and_the_restarted_node_serving_everything();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- processes ---\n{_cluster.Describe()}");
        }
    }

    private async Task Docker_and_skopeo_push_and_pull_through_nginx_with_their_digests_intact()
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 3 * 1024 * 1024, Seed = 41 });
        var layout = await image.WriteOciLayoutAsync(_dir.Combine("src"), "v1", Ct);
        await Skopeo.CopyAsync(layout.Reference, $"docker://{_cluster.Address}/keeper/app:v1", Endpoint, Ct);

        await docker.DockerCheckedAsync(["login", "-u", _cluster.Admin.UserName, "--password-stdin", _cluster.Address], Ct, standardInput: _cluster.Admin.Password);
        await docker.DockerCheckedAsync(["pull", $"{_cluster.Address}/keeper/app:v1"], Ct);
        var repoDigests = (await docker.DockerCheckedAsync(["image", "inspect", "--format", "{{json .RepoDigests}}", $"{_cluster.Address}/keeper/app:v1"], Ct)).StandardOutput;
        Assert.Contains($"{_cluster.Address}/keeper/app@{image.ManifestDigest}", repoDigests, StringComparison.Ordinal);

        await docker.DockerCheckedAsync(["tag", $"{_cluster.Address}/keeper/app:v1", $"{_cluster.Address}/keeper/copy:v1"], Ct);
        var push = (await docker.DockerCheckedAsync(["push", $"{_cluster.Address}/keeper/copy:v1"], Ct)).StandardOutput;
        var pushed = System.Text.RegularExpressions.Regex.Match(push, @"digest: (sha256:[0-9a-f]{64})").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(pushed), push);

        // skopeo reads what docker pushed, through either node, with the digest docker printed.
        foreach (var node in (int[])[0, 1])
        {
            var inspect = await ExternalTool.RunCheckedAsync("skopeo", ["inspect", "--tls-verify=false", "--creds", _cluster.Admin.AsCredsArgument,
                "--format", "{{.Digest}}", $"docker://127.0.0.1:{_cluster.NodePorts[node]}/keeper/copy:v1"], cancellationToken: Ct);
            Assert.Equal(pushed, inspect.StandardOutput.Trim());
        }
        await Skopeo.CopyAsync($"docker://{_cluster.Address}/keeper/app:v1", $"oci:{_dir.Combine("back")}:v1", Endpoint, Ct);
        var back = await TestImages.ReadOciLayoutAsync(_dir.Combine("back"), "v1", Ct);
        Assert.Equal(image.ManifestDigest, back.ManifestDigest);
        Assert.Equal(layout.Layers.Select(l => l.Digest), back.Layers.Select(l => l.Digest));
    }

    private async Task A_chunked_upload_whose_patches_alternate_between_the_nodes_completes_with_its_digest()
    {
        // Six chunks of 3 MiB: each node continues what the other began (the running hash travels with the session).
        var chunks = Enumerable.Range(0, 6).Select(i => RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + i)).ToArray();
        var whole = chunks.SelectMany(c => c).ToArray();
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(whole));
        using var a = _cluster.Client(0, signedIn: true);
        using var b = _cluster.Client(1, signedIn: true);

        using var start = await a.PostAsync("v2/keeper/chunked/blobs/uploads/", null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location!.ToString();
        long offset = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var http = i % 2 == 0 ? b : a;
            using var patch = new HttpRequestMessage(HttpMethod.Patch, Relative(location)) { Content = new ByteArrayContent(chunks[i]) };
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunks[i].Length - 1}");
            using var answer = await http.SendAsync(patch, Ct);
            Assert.True(answer.StatusCode == HttpStatusCode.Accepted, $"chunk {i} on node {(i % 2 == 0 ? "B" : "A")}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(Ct)}");
            offset += chunks[i].Length;
            Assert.Equal($"0-{offset - 1}", string.Join("", answer.Headers.GetValues("Range")));
            location = answer.Headers.Location!.ToString();
        }
        using var put = await b.PutAsync(Relative(location) + (location.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "digest=" + digest, null, Ct);
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));

        using var through = _cluster.Client(signedIn: true);
        var bytes = await through.GetByteArrayAsync($"v2/keeper/chunked/blobs/{digest}", Ct);
        Assert.Equal(digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    private async Task A_tag_moved_on_node_A_is_read_at_once_on_node_B()
    {
        using var a = _cluster.Client(0, signedIn: true);
        using var b = _cluster.Client(1, signedIn: true);
        var one = await PushAsync(a, "keeper/moving", "stable", 1);
        Assert.Equal(one, await TagDigestAsync(b, "keeper/moving", "stable")); // B now caches "stable" for an hour

        var two = await PushAsync(a, "keeper/moving", "stable", 2);
        // B hears A's signal within moments; its own cache would keep the old digest for an hour.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string? seen;
        while ((seen = await TagDigestAsync(b, "keeper/moving", "stable")) != two && DateTime.UtcNow < deadline) await Task.Delay(20, Ct);
        Assert.Equal(two, seen);
    }

    private async Task A_build_submitted_on_node_A_runs_on_the_worker_and_is_followed_live_from_node_B()
    {
        await using (var layout = TempDirectory.Create("bbox"))
        {
            var busybox = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", Ct);
            await Skopeo.CopyAsync(busybox.Reference, $"docker://{_cluster.Address}/library/busybox:latest", Endpoint, Ct);
        }
        using var a = _cluster.Client(0, signedIn: true);
        using var form = new MultipartFormDataContent();
        var dockerfile = new ByteArrayContent(Encoding.UTF8.GetBytes(
            $"FROM {_cluster.Address}/library/busybox:latest\nRUN echo line-one && sleep 2 && echo line-two > /two.txt && echo line-two\n"));
        dockerfile.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(dockerfile, "dockerfile", "Dockerfile");
        form.Add(new StringContent("keeper/built:1"), "image");
        using var submitted = await a.PostAsync("api/v1/builds", form, Ct);
        var body = await submitted.Content.ReadAsStringAsync(Ct);
        Assert.True(submitted.StatusCode == HttpStatusCode.Created, body);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();

        using var b = _cluster.Client(1, signedIn: true);
        using var follow = await b.GetAsync($"api/v1/builds/{id}/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, follow.StatusCode);
        using var reader = new StreamReader(await follow.Content.ReadAsStreamAsync(Ct));
        var lines = new List<string>();
        string? eventName = null, end = null, stateAtLineOne = null;
        while (end is null && await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) eventName = line["event: ".Length..];
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line["data: ".Length..];
            if (eventName == "end")
            {
                end = data;
                break;
            }
            lines.Add(data);
            if (stateAtLineOne is null && data.EndsWith("Z line-one", StringComparison.Ordinal))
            {
                stateAtLineOne = JsonNode.Parse(await b.GetStringAsync($"api/v1/builds/{id}", Ct))!["state"]!.GetValue<string>();
            }
        }
        var build = JsonNode.Parse(await b.GetStringAsync($"api/v1/builds/{id}", Ct))!;
        Assert.True(end == "succeeded", $"{end}: {build.ToJsonString()}\n{string.Join('\n', lines)}");
        Assert.Equal("running", stateAtLineOne); // the line reached node B while the worker still ran the build
        var digest = build["digest"]!.GetValue<string>();
        using var through = _cluster.Client(signedIn: true);
        using var manifest = new HttpRequestMessage(HttpMethod.Head, "v2/keeper/built/manifests/1");
        manifest.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        manifest.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using var head = await through.SendAsync(manifest, Ct);
        Assert.Equal(digest, string.Join("", head.Headers.GetValues("Docker-Content-Digest")));
    }

    private async Task A_node_killed_mid_push_the_push_retried_through_nginx_and_the_restarted_node_serving_everything()
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 8 * 1024 * 1024, Seed = 77 });
        var layer = image.Layers[0].Gzip;
        using var a = _cluster.Client(0, signedIn: true);
        using var start = await a.PostAsync("v2/keeper/killed/blobs/uploads/", null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);

        // Half the layer reaches node A; then A dies while the body is still coming.
        var half = layer.Length / 2;
        var body = new GatedContent(layer.AsMemory(0, half));
        using var patch = new HttpRequestMessage(HttpMethod.Patch, Relative(start.Headers.Location!.ToString())) { Content = body };
        var sending = a.SendAsync(patch, Ct);
        await body.HalfSent.WaitAsync(Ct);
        await _cluster.KillNodeAsync(0);
        body.Release();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => sending);

        // The client starts its push again through nginx, which now reaches node B.
        var layout = await image.WriteOciLayoutAsync(_dir.Combine("killed"), "v1", Ct);
        await Skopeo.CopyAsync(layout.Reference, $"docker://{_cluster.Address}/keeper/killed:v1", Endpoint, Ct);

        // Node A comes back (same port, same folder) and serves everything pushed through the set, at once.
        await _cluster.StartNodeAsync(0);
        foreach (var (repository, tag) in (ValueTuple<string, string>[])[("keeper/app", "v1"), ("keeper/copy", "v1"), ("keeper/moving", "stable"), ("keeper/built", "1"), ("keeper/killed", "v1")])
        {
            await Skopeo.CopyAsync($"docker://127.0.0.1:{_cluster.NodePorts[0]}/{repository}:{tag}", $"oci:{_dir.Combine("restored-" + repository.Replace('/', '-'))}:{tag}",
                new ClusterEndpoint($"127.0.0.1:{_cluster.NodePorts[0]}", _cluster.Admin), Ct);
        }
        var killed = await TestImages.ReadOciLayoutAsync(_dir.Combine("restored-keeper-killed"), "v1", Ct);
        Assert.Equal(image.ManifestDigest, killed.ManifestDigest);
        using var restarted = _cluster.Client(0, signedIn: true);
        var catalog = await restarted.GetStringAsync("v2/_catalog", Ct);
        foreach (var name in (string[])["keeper/app", "keeper/copy", "keeper/moving", "keeper/built", "keeper/killed", "keeper/chunked", "library/busybox"])
        {
            Assert.Contains($"\"{name}\"", catalog, StringComparison.Ordinal);
        }
    }

    /// <summary>Pushes a one-layer image (its blobs in one request each) and returns its manifest digest.</summary>
    private async Task<string> PushAsync(HttpClient http, string repository, string tag, int seed)
    {
        var image = TestImages.RandomImage(new RandomImageOptions { Layers = 1, LayerSize = 4096, Seed = seed });
        foreach (var (bytes, digest) in (ValueTuple<byte[], string>[])[(image.Config, image.ConfigDigest), (image.Layers[0].Gzip, image.Layers[0].Digest)])
        {
            using var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var upload = await http.PostAsync($"v2/{repository}/blobs/uploads/?digest={digest}", content, Ct);
            Assert.True(upload.StatusCode == HttpStatusCode.Created, await upload.Content.ReadAsStringAsync(Ct));
        }
        using var manifest = new ByteArrayContent(image.Manifest);
        manifest.Headers.ContentType = new MediaTypeHeaderValue(TestImage.OciManifestMediaType);
        using var put = await http.PutAsync($"v2/{repository}/manifests/{tag}", manifest, Ct);
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));
        return image.ManifestDigest;
    }

    private async Task<string?> TagDigestAsync(HttpClient http, string repository, string tag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd(TestImage.OciManifestMediaType);
        using var response = await http.SendAsync(request, Ct);
        return response.IsSuccessStatusCode ? string.Join("", response.Headers.GetValues("Docker-Content-Digest")) : null;
    }

    /// <summary>A Location header as a path relative to the client's base address.</summary>
    private static string Relative(string location) =>
        Uri.TryCreate(location, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http", StringComparison.Ordinal)
            ? absolute.PathAndQuery.TrimStart('/')
            : location.TrimStart('/');

    /// <summary>A body that sends its bytes, says so, then holds the request open until released (and then fails it).</summary>
    private sealed class GatedContent(ReadOnlyMemory<byte> first) : HttpContent
    {
        private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HalfSent => _sent.Task;

        public void Release() => _released.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(first);
            await stream.FlushAsync();
            _sent.TrySetResult();
            await _released.Task;
            throw new IOException("The client gave up on its push.");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private sealed class ClusterEndpoint(string hostPort, RegistryCredentials credentials) : IRegistryEndpoint
    {
        public string HostPort { get; } = hostPort;

        public string BaseUrl => "http://" + HostPort;

        public RegistryCredentials? Credentials { get; } = credentials;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
