using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Bench;

public static class Workloads
{
    private const double MiB = 1024 * 1024;

    /// <summary>Pushes a tiny OCI image (config + one small layer + manifest) and tags it, for the manifest GET workload.</summary>
    public static async Task<JsonObject> SeedManifestAsync(RegistryClient client, string repo, string tag, string workDir, CancellationToken ct)
    {
        Directory.CreateDirectory(workDir);
        var layer = DataGen.Blob(Path.Combine(workDir, "small-layer.bin"), 2048, seed: 42);
        var configBytes = Encoding.UTF8.GetBytes(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + layer.Digest + "\"]}}");
        var configPath = Path.Combine(workDir, "small-config.json");
        await File.WriteAllBytesAsync(configPath, configBytes, ct);
        var config = new BlobFile(configPath, configBytes.Length, Digests.Sha256(configBytes));
        // push_ms: the push as a client sees it (both blobs and the manifest), without this process's start-up.
        var pushing = System.Diagnostics.Stopwatch.StartNew();
        await client.UploadMonolithicAsync(repo, layer, ct);
        await client.UploadMonolithicAsync(repo, config, ct);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = DataGen.OciManifest,
            ["config"] = new JsonObject { ["mediaType"] = DataGen.OciConfig, ["digest"] = config.Digest, ["size"] = config.Size },
            ["layers"] = new JsonArray(new JsonObject { ["mediaType"] = DataGen.OciLayerGzip, ["digest"] = layer.Digest, ["size"] = layer.Size }),
        };
        var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString(Json.Compact));
        var digest = Digests.Sha256(bytes);
        var reported = await client.PutManifestAsync(repo, tag, bytes, DataGen.OciManifest, ct);
        var pushMs = pushing.Elapsed.TotalMilliseconds;
        var (status, contentType, gotDigest) = await client.GetManifestAsync(repo, tag, DataGen.OciManifest, ct);
        if (status != 200 || gotDigest != digest)
        {
            throw new BenchException($"GET manifest by tag after push: HTTP {status}, body digest {gotDigest}, expected {digest}");
        }

        return new JsonObject
        {
            ["repo"] = repo,
            ["tag"] = tag,
            ["digest"] = digest,
            ["reported_digest"] = reported,
            ["size"] = bytes.Length,
            ["content_type"] = contentType,
            ["push_ms"] = Math.Round(pushMs, 2),
        };
    }

    /// <summary>
    /// Monolithic upload, chunked upload, download and Range against every registry. Repeats are interleaved
    /// and the order alternates on each repeat, so drift or noise on the machine (page cache writeback, other
    /// load) does not favour whichever registry happens to go first.
    /// </summary>
    /// <param name="ceilings">
    /// Servers that only serve the download target at the same URL (nginx with sendfile from the file itself): timed
    /// with the registries, as what this loopback and disk can do at best.
    /// </param>
    public static async Task<JsonObject> BlobsAsync(
        IReadOnlyList<(string Name, RegistryClient Client)> targets, string repo, IReadOnlyList<BlobFile> mono,
        IReadOnlyList<BlobFile> chunked, int chunkSize, bool sync, CancellationToken ct,
        IReadOnlyList<(string Name, RegistryClient Client)>? ceilings = null)
    {
        ceilings ??= [];
        var names = targets.Select(t => t.Name).ToList();
        IEnumerable<(string Name, RegistryClient Client)> InOrder(int repeat) => repeat % 2 == 0 ? targets : targets.Reverse();
        Dictionary<string, List<double>> Runs() => names.ToDictionary(n => n, _ => new List<double>());

        var monoRuns = Runs();
        for (var i = 0; i < mono.Count; i++)
        {
            foreach (var (name, client) in InOrder(i))
            {
                Sync(sync);
                var sw = Stopwatch.StartNew();
                await client.UploadMonolithicAsync(repo, mono[i], ct);
                monoRuns[name].Add(sw.Elapsed.TotalSeconds);
                await client.VerifyBlobAsync(repo, mono[i], ct);
                Log($"[{name}] monolithic upload {mono[i].Size / MiB:0} MiB: {sw.Elapsed.TotalSeconds:0.000} s");
            }
        }

        var chunkRuns = Runs();
        var chunks = 0;
        for (var i = 0; i < chunked.Count; i++)
        {
            foreach (var (name, client) in InOrder(i))
            {
                Sync(sync);
                var sw = Stopwatch.StartNew();
                chunks = await client.UploadChunkedAsync(repo, chunked[i], chunkSize, ct);
                chunkRuns[name].Add(sw.Elapsed.TotalSeconds);
                await client.VerifyBlobAsync(repo, chunked[i], ct);
                Log($"[{name}] chunked upload {chunked[i].Size / MiB:0} MiB in {chunks} PATCHes: {sw.Elapsed.TotalSeconds:0.000} s");
            }
        }

        // Download: one verified (hashed, untimed) GET each, which also warms the page cache the same way for
        // every registry, then timed GETs that only count bytes.
        var target = mono[0];
        Sync(sync);
        var downloaders = targets.Concat(ceilings).ToList();
        foreach (var (_, client) in downloaders)
        {
            await client.DownloadAsync(repo, target, verify: true, ct);
        }

        var getRuns = downloaders.ToDictionary(t => t.Name, _ => new List<double>());
        for (var i = 0; i < mono.Count; i++)
        {
            foreach (var (name, client) in i % 2 == 0 ? downloaders : Enumerable.Reverse(downloaders))
            {
                var sw = Stopwatch.StartNew();
                await client.DownloadAsync(repo, target, verify: false, ct);
                getRuns[name].Add(sw.Elapsed.TotalSeconds);
                Log($"[{name}] download {target.Size / MiB:0} MiB: {sw.Elapsed.TotalSeconds:0.000} s");
            }
        }

        var all = new JsonObject();
        foreach (var (name, client) in targets)
        {
            var result = new JsonObject { ["size_bytes"] = target.Size, ["chunk_bytes"] = chunkSize, ["sync_between_runs"] = sync };
            result["monolithic"] = Summarise(monoRuns[name], mono[0].Size);
            var chunkedSummary = Summarise(chunkRuns[name], chunked[0].Size);
            chunkedSummary["chunks"] = chunks;
            result["chunked"] = chunkedSummary;
            var download = Summarise(getRuns[name], target.Size);
            download["verified_sha256"] = true;
            result["download"] = download;
            result["range"] = await RangeChecksAsync(name, client, repo, target, Median(getRuns[name]), ct);
            all[name] = result;
        }

        foreach (var (name, _) in ceilings)
        {
            all[name] = new JsonObject { ["size_bytes"] = target.Size, ["download"] = Summarise(getRuns[name], target.Size) };
        }

        return all;
    }

    /// <summary>
    /// What continuing a chunked upload on another node costs: each pair of files is uploaded in chunks once all on node
    /// A and once with its PATCHes alternating between A and B (the order alternating per pair), and the medians compared.
    /// On S3 the next node resumes the saved hash state and the multipart upload; nothing is copied between nodes.
    /// </summary>
    public static async Task<JsonObject> CrossNodeAsync(RegistryClient nodeA, Uri nodeB, string repo, IReadOnlyList<BlobFile> files, int chunkSize, CancellationToken ct)
    {
        var one = new List<double>();
        var across = new List<double>();
        var chunks = 0;
        for (var i = 0; i + 1 < files.Count; i += 2)
        {
            foreach (var alternate in (i / 2) % 2 == 0 ? new[] { false, true } : [true, false])
            {
                var file = files[alternate ? i + 1 : i];
                Sync(true);
                var sw = Stopwatch.StartNew();
                chunks = await nodeA.UploadChunkedAsync(repo, file, chunkSize, ct, alternate ? nodeB : null);
                (alternate ? across : one).Add(sw.Elapsed.TotalSeconds);
                await nodeA.VerifyBlobAsync(repo, file, ct);
                Log($"[cross-node] chunked upload {file.Size / MiB:0} MiB in {chunks} PATCHes {(alternate ? "alternating A/B" : "all on A")}: {sw.Elapsed.TotalSeconds:0.000} s");
            }
        }
        var size = files[0].Size;
        var oneNode = Summarise(one, size);
        var alternating = Summarise(across, size);
        var extraPerPatchMs = (Median(across) - Median(one)) * 1000 / Math.Max(1, chunks);
        return new JsonObject
        {
            ["size_bytes"] = size,
            ["chunk_bytes"] = chunkSize,
            ["chunks"] = chunks,
            ["one_node"] = oneNode,
            ["alternating"] = alternating,
            ["time_ratio"] = Round(Median(across) / Median(one), 3),
            ["extra_ms_per_patch"] = Round(extraPerPatchMs, 1),
        };
    }

    /// <summary>
    /// Range: the head, the middle and the tail of the blob; times the 1 MiB tail read (a server that reads
    /// the whole blob to serve a range shows it here, next to the full GET's time).
    /// </summary>
    private static async Task<JsonObject> RangeChecksAsync(
        string name, RegistryClient client, string repo, BlobFile target, double fullGetSeconds, CancellationToken ct)
    {
        var size = target.Size;
        var tail = Math.Min(1L << 20, size);
        var checks = new List<RangeResult>
        {
            await client.RangeAsync(repo, target, 0, Math.Min(1023, size - 1), ct),
            await client.RangeAsync(repo, target, size / 2, Math.Min(size / 2 + 65535, size - 1), ct),
        };
        var tailTimes = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var r = await client.RangeAsync(repo, target, size - tail, size - 1, ct);
            checks.Add(r);
            tailTimes.Add(r.Milliseconds);
        }

        var checkArray = new JsonArray();
        foreach (var c in checks.Take(3))
        {
            checkArray.Add(new JsonObject
            {
                ["range"] = $"bytes={c.First}-{c.Last}",
                ["status"] = c.Status,
                ["content_range"] = c.ContentRange,
                ["bytes"] = c.Bytes,
                ["ok"] = c.Ok,
            });
        }

        Log($"[{name}] range checks ok={checks.All(c => c.Ok)}, 1 MiB tail median {Median(tailTimes):0.00} ms");
        return new JsonObject
        {
            ["ok"] = checks.All(c => c.Ok),
            ["checks"] = checkArray,
            ["tail_bytes"] = tail,
            ["tail_median_ms"] = Round(Median(tailTimes), 3),
            ["full_get_median_ms"] = Round(fullGetSeconds * 1000, 1),
        };
    }

    /// <summary>
    /// Peak RSS of <paramref name="pid"/> while one large monolithic upload runs: the kernel's high-water mark
    /// (VmHWM) is reset just before (clear_refs 5) and read after, and VmRSS is sampled meanwhile as a check.
    /// </summary>
    public static async Task<JsonObject> MemoryAsync(RegistryClient client, string repo, BlobFile blob, int pid, int sampleMs, CancellationToken ct)
    {
        var before = ProcStatus.Read(pid);
        var lifetimeHwmBefore = before.HwmKiB;
        var resetOk = ProcStatus.ResetHighWaterMark(pid);
        var afterReset = ProcStatus.Read(pid);
        Sync(true);

        long sampledMax = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(sampleMs));
            try
            {
                do
                {
                    var s = ProcStatus.Read(pid);
                    sampledMax = Math.Max(sampledMax, s.RssKiB);
                }
                while (await timer.WaitForNextTickAsync(stop.Token));
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);

        var sw = Stopwatch.StartNew();
        await client.UploadMonolithicAsync(repo, blob, ct);
        var seconds = sw.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await sampler;
        var end = ProcStatus.Read(pid);
        await client.VerifyBlobAsync(repo, blob, ct);
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var settled = ProcStatus.Read(pid);
        var peak = resetOk ? Math.Max(end.HwmKiB, sampledMax) : sampledMax;
        Log($"memory: {blob.Size / MiB:0} MiB upload in {seconds:0.00} s; RSS before {before.RssKiB / 1024.0:0.0} MiB, peak {peak / 1024.0:0.0} MiB, after {settled.RssKiB / 1024.0:0.0} MiB");
        return new JsonObject
        {
            ["pid"] = pid,
            ["upload_bytes"] = blob.Size,
            ["upload_s"] = Round(seconds, 3),
            ["upload_mibps"] = Round(blob.Size / MiB / seconds, 1),
            ["rss_before_mib"] = Round(before.RssKiB / 1024.0, 1),
            ["hwm_reset_ok"] = resetOk,
            ["rss_after_reset_mib"] = Round(afterReset.RssKiB / 1024.0, 1),
            ["peak_rss_mib"] = Round(peak / 1024.0, 1),
            ["peak_minus_before_mib"] = Round((peak - before.RssKiB) / 1024.0, 1),
            ["sampled_max_rss_mib"] = Round(sampledMax / 1024.0, 1),
            ["hwm_after_upload_mib"] = Round(end.HwmKiB / 1024.0, 1),
            ["rss_end_of_upload_mib"] = Round(end.RssKiB / 1024.0, 1),
            ["rss_after_mib"] = Round(settled.RssKiB / 1024.0, 1),
            ["lifetime_hwm_before_mib"] = Round(lifetimeHwmBefore / 1024.0, 1),
        };
    }

    private static JsonObject Summarise(List<double> seconds, long bytes)
    {
        var rates = seconds.Select(s => bytes / MiB / s).ToList();
        return new JsonObject
        {
            ["runs_s"] = new JsonArray(seconds.Select(s => (JsonNode)Round(s, 4)).ToArray()),
            ["runs_mibps"] = new JsonArray(rates.Select(r => (JsonNode)Round(r, 1)).ToArray()),
            ["best_mibps"] = Round(rates.Max(), 1),
            ["median_mibps"] = Round(Median(rates), 1),
        };
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double Round(double v, int digits) => Math.Round(v, digits);

    /// <summary>Flushes dirty pages so one run's writeback does not land in the next run's timing.</summary>
    private static void Sync(bool enabled)
    {
        if (!enabled)
        {
            return;
        }

        using var p = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false });
        if (p is not null && !p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill();
        }
    }

    public static void Log(string message) => Console.Error.WriteLine("  " + message);
}

public readonly record struct ProcStatus(long RssKiB, long HwmKiB)
{
    public static ProcStatus Read(int pid)
    {
        long rss = 0, hwm = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = ParseKiB(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                hwm = ParseKiB(line);
            }
        }

        return new ProcStatus(rss, hwm);
    }

    /// <summary>Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+; needs ptrace rights over the process).</summary>
    public static bool ResetHighWaterMark(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var s = Read(pid);
        return s.HwmKiB <= s.RssKiB + 1024;
    }

    private static long ParseKiB(string line) =>
        long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
