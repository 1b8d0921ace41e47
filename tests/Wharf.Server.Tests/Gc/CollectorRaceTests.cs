using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Digests;
using Wharf.Core.Gc;
using Wharf.Core.Storage;
using Wharf.Server.Tests.Registry;
using Wharf.Testing;
using static Wharf.Server.Tests.Registry.RegistryClient;

namespace Wharf.Server.Tests.Gc;

/// <summary>
/// Race stress: clients push images that share layers, delete tags and push the same layers again while the collector
/// runs in a loop with a grace period of 0. Afterwards every tagged manifest pulls whole with every digest verified, and
/// the blob store holds exactly the blobs that the remaining manifests reference. Bounded: a fixed number of rounds.
/// </summary>
public class CollectorRaceTests : RegistryTestBase
{
    private const int Clients = 4;
    private const int Rounds = 12;

    protected override string[] ServerArgs => ["--Wharf:Gc:GracePeriod=00:00:00", "--Wharf:Gc:Enabled=false"];

    private static readonly byte[][] SharedLayers = [.. Enumerable.Range(0, 5).Select(i => Enumerable.Range(0, 2048).Select(b => (byte)(b * (i + 3))).ToArray())];

    /// <summary>Uploads a blob; an upload that met a blob being deleted (503) is repeated, as clients do.</summary>
    private async Task<bool> UploadAsync(string repository, byte[] content)
    {
        var digest = Digest.Compute(content);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            using var post = await Http.PostAsync($"v2/{repository}/blobs/uploads/", null);
            if (post.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"POST upload answered {(int)post.StatusCode}");
            using var put = await Http.PutAsync(WithQuery(post.Headers.Location!, "digest=" + digest), Octets(content));
            if (put.StatusCode == HttpStatusCode.Created) return true;
            if (put.StatusCode != HttpStatusCode.ServiceUnavailable) throw new InvalidOperationException($"PUT upload answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }
        return false;
    }

    /// <summary>Pushes an image (two shared layers, a config of its own); a manifest refused because the collector took a blob in between is pushed again.</summary>
    private async Task<Digest?> PushAsync(string repository, string tag, int client, int round)
    {
        var config = Bytes($$"""{"architecture":"amd64","os":"linux","client":{{client}},"round":{{round}}}""");
        var first = SharedLayers[(client + round) % SharedLayers.Length];
        var second = SharedLayers[(client + round + 1) % SharedLayers.Length];
        var json = ImageManifest((Digest.Compute(config), config.Length), [(Digest.Compute(first), first.Length), (Digest.Compute(second), second.Length)]);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            foreach (var blob in new[] { config, first, second })
            {
                if (!await UploadAsync(repository, blob)) return null;
            }
            using var put = await Registry.PutManifestAsync(repository, tag, json);
            if (put.StatusCode == HttpStatusCode.Created) return Digest.Compute(Bytes(json));
            var body = await put.Content.ReadAsStringAsync();
            if (put.StatusCode != HttpStatusCode.BadRequest || !body.Contains("MANIFEST_BLOB_UNKNOWN", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"PUT manifest answered {(int)put.StatusCode}: {body}");
            }
        }
        return null;
    }

    [Fact]
    public async Task Pushes_deletes_and_a_collector_in_a_loop_leave_every_tagged_image_whole_and_no_garbage()
    {
        var collector = Server.Services.GetRequiredService<GarbageCollector>();
        using var stop = new CancellationTokenSource();
        var collections = 0;
        // The collector runs once per step a client finishes (a push attempt, a delete), while the other clients go on:
        // paced by their events, so that it keeps racing them without starving every push of its blobs.
        using var turns = new SemaphoreSlim(0);
        var loop = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    await turns.WaitAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (await collector.RunAsync(dryRun: false, "test", CancellationToken.None) is not null) collections++;
            }
        });

        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<(string Repository, string Tag), Digest>();
        var storedPushes = 0;
        var gaveUp = 0;
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (var round = 0; round < Rounds; round++)
            {
                var repository = $"stress/r{client % 2}";
                var tag = $"c{client}-t{round % 3}";
                // With no grace period a push can lose to the collector again and again (its blobs are garbage until its
                // manifest lands); one that gives up changed nothing. What matters is that no acknowledged push loses anything.
                var pushed = await PushAsync(repository, tag, client, round);
                turns.Release();
                if (pushed is null)
                {
                    Interlocked.Increment(ref gaveUp);
                    continue;
                }
                Interlocked.Increment(ref storedPushes);
                acknowledged[(repository, tag)] = pushed.Value;
                if (round % 4 == 3)
                {
                    using var untag = await Http.DeleteAsync($"v2/{repository}/manifests/{tag}");
                    Assert.Equal(HttpStatusCode.Accepted, untag.StatusCode);
                    acknowledged.TryRemove((repository, tag), out _);
                    turns.Release();
                }
            }
        })));
        stop.Cancel();
        await loop;
        Assert.True(collections > 0, "the collector never ran during the pushes");
        Assert.True(storedPushes > gaveUp, $"{storedPushes} pushes were stored and {gaveUp} gave up: the collector starved the pushes");
        Assert.True(collections > Clients, $"the collector ran only {collections} times during the pushes");

        // One last collection, then: every tag still there (each client's last push of it) pulls whole.
        Assert.NotNull(await collector.RunAsync(dryRun: false, "test", CancellationToken.None));
        var referenced = new HashSet<Digest>();
        foreach (var ((repository, tag), digest) in acknowledged)
        {
            using var manifest = await Http.GetAsync($"v2/{repository}/manifests/{tag}");
            Assert.True(manifest.StatusCode == HttpStatusCode.OK, $"{repository}:{tag} answered {(int)manifest.StatusCode}");
            var bytes = await manifest.Content.ReadAsByteArrayAsync();
            Assert.Equal(digest, Digest.Compute(bytes));
            using var document = JsonDocument.Parse(bytes);
            var blobs = document.RootElement.GetProperty("layers").EnumerateArray().Append(document.RootElement.GetProperty("config"))
                .Select(d => Digest.Parse(d.GetProperty("digest").GetString()!));
            foreach (var blob in blobs)
            {
                using var response = await Http.GetAsync($"v2/{repository}/blobs/{blob}");
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{repository}@{blob} of {tag} answered {(int)response.StatusCode}");
                Assert.Equal(blob, Digest.Compute(await response.Content.ReadAsByteArrayAsync()));
                referenced.Add(blob);
            }
        }

        // Blobs that nothing references are gone: the store holds exactly the referenced ones.
        var stored = new HashSet<Digest>();
        await foreach (var info in Server.Services.GetRequiredService<IBlobStore>().ListAsync(CancellationToken.None)) stored.Add(info.Digest);
        Assert.Equal(referenced.Select(d => d.ToString()).Order(), stored.Select(d => d.ToString()).Order());
    }
}

public sealed class CollectorRaceTestsOnPostgreSqlAndS3 : CollectorRaceTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;

    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}
