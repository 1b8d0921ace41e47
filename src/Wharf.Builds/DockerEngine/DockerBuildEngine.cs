using System.Formats.Tar;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Wharf.Builds.Sandbox;
using Wharf.Core.Builds;
using Wharf.Core.Builds.Dockerfiles;

namespace Wharf.Builds.DockerEngine;

/// <summary>
/// Builds with the Docker Engine: the images the Dockerfile names are pulled first (<c>POST /images/create</c> with the
/// owner's credential, so permissions are judged now and a base another namespace pulled earlier is not used unasked),
/// their configs reviewed, then <c>POST /build</c> with the context tar. The layer cache is per namespace: the daemon
/// may reuse only layers of images this namespace built (<c>cachefrom</c>), never another's. Build containers go into
/// the build's cgroup sandbox (<c>cgroupparent</c>, when the daemon manages cgroups with cgroupfs), so the process
/// limit holds and a timeout kills them. Then tag and <c>POST /images/{name}/push</c> with <c>X-Registry-Auth</c>.
/// </summary>
public sealed partial class DockerBuildEngine(DockerEngineClient docker, BuildOptions options, BuildSandboxes sandboxes, ILogger<DockerBuildEngine> logger) : IBuildEngine
{
    private const int CacheImagesPerNamespace = 20;
    private DaemonInfo? _daemon;

    public string Name => "docker";

    public async Task<EngineResult> BuildAsync(EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var daemon = await DaemonAsync(cancellationToken);
        var sandbox = daemon.CgroupFs ? sandboxes.Create(request.BuildId) : null;
        try
        {
            var configs = new Dictionary<string, BaseImageInfo>(StringComparer.Ordinal);
            foreach (var image in request.Images)
            {
                await log.WriteAsync($"Pulling {image.Reference}", cancellationToken);
                var pulled = await PullAsync(image.Reference, request, log, cancellationToken);
                if (!pulled.Succeeded) return pulled;
                configs[image.Reference] = await InspectAsync(image.Reference, cancellationToken);
            }
            if (request.ReviewWithImages(configs) is { } refusal)
            {
                await log.WriteAsync("Refused: " + refusal, cancellationToken);
                return EngineResult.Fail(refusal);
            }

            var cache = CacheRepository(request.Namespace);
            var cacheFrom = await CacheImagesAsync(cache, cancellationToken);
            var query = new StringBuilder("build?rm=1&forcerm=1&pull=0&t=").Append(Uri.EscapeDataString(request.LocalImage))
                .Append("&dockerfile=").Append(Uri.EscapeDataString(request.DockerfilePath))
                .Append("&memory=").Append((long)options.MemoryLimitMiB * 1024 * 1024)
                .Append("&memswap=").Append((long)options.MemoryLimitMiB * 1024 * 1024)
                .Append("&cpuperiod=100000&cpuquota=").Append(Math.Max(1000, (long)(options.CpuLimit * 100_000)))
                // Only this namespace's images may serve as cache (an unknown name when it has none: no cache at all).
                .Append("&cachefrom=").Append(Uri.EscapeDataString(JsonSerializer.Serialize(cacheFrom.Count > 0 ? cacheFrom : [cache + ":none"], DockerJson.Default.ListString)));
            if (sandbox is not null) query.Append("&cgroupparent=").Append(Uri.EscapeDataString(sandbox.ContainersParent));
            if (!options.AllowNetwork) query.Append("&networkmode=none");
            if (request.BuildArgs.Count > 0)
            {
                query.Append("&buildargs=").Append(Uri.EscapeDataString(JsonSerializer.Serialize(request.BuildArgs.ToDictionary(), DockerJson.Default.DictionaryStringString)));
            }
            if (request.Target is { } target) query.Append("&target=").Append(Uri.EscapeDataString(target));
            if (request.Platform is { } platform) query.Append("&platform=").Append(Uri.EscapeDataString(platform));

            var archive = Path.Combine(request.WorkDirectory, "context.tar");
            await TarFile.CreateFromDirectoryAsync(request.ContextDirectory, archive, includeBaseDirectory: false, cancellationToken);
            await using var context = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            using var message = new HttpRequestMessage(HttpMethod.Post, query.ToString()) { Content = new StreamContent(context) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
            var config = request.PullLogins.ToDictionary(l => l.Host, l => new DockerAuth { Username = l.Username, Password = l.Password, ServerAddress = l.Host });
            message.Headers.Add("X-Registry-Config", DockerEngineClient.EncodeHeader(config, DockerJson.Default.DictionaryStringDockerAuth));
            await log.WriteAsync($"docker engine: POST /build -t {request.LocalImage}", cancellationToken);

            using var limitStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            string? limit = null;
            var monitor = MonitorAsync(sandbox, hit =>
            {
                limit ??= hit;
                limitStop.Cancel();
            }, limitStop.Token);
            try
            {
                var built = await StreamBuildAsync(message, log, limitStop.Token);
                if (built.Succeeded)
                {
                    await TagAsync(request.LocalImage, cache, request.BuildId.ToString("N"), cancellationToken);
                    await PruneCacheAsync(cache, cancellationToken);
                }
                limit ??= sandbox?.LimitReached() == SandboxLimit.Processes ? nameof(BuildOptions.MaxProcesses) : null;
                return limit is not null ? EngineResult.LimitReached(limit, LimitMessage(limit)) : built;
            }
            catch (OperationCanceledException) when (limit is not null && !cancellationToken.IsCancellationRequested)
            {
                return EngineResult.LimitReached(limit, LimitMessage(limit));
            }
            finally
            {
                await limitStop.CancelAsync();
                await monitor.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            if (sandbox is not null) await sandbox.DisposeAsync();
        }
    }

    private async Task<EngineResult> StreamBuildAsync(HttpRequestMessage message, IBuildLog log, CancellationToken cancellationToken)
    {
        using var response = await docker.SendAsync(message, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            await log.WriteAsync(body.Trim(), cancellationToken);
            return EngineResult.Fail($"The Docker Engine refused the build ({(int)response.StatusCode}): {body.Trim()}");
        }
        var partial = new StringBuilder();
        await foreach (var item in DockerEngineClient.ReadMessagesAsync(response, cancellationToken))
        {
            if (item.Error is { } error)
            {
                await log.WriteAsync(error.TrimEnd(), cancellationToken);
                return EngineResult.Fail(error.Trim());
            }
            if (item.Stream is { } text)
            {
                // The stream splits lines arbitrarily: emit complete lines only.
                partial.Append(text);
                await FlushLinesAsync(partial, log, cancellationToken);
            }
            else if (item.Status is { } status)
            {
                await log.WriteAsync(item.Id is null ? status : $"{item.Id}: {status}", cancellationToken);
            }
        }
        if (partial.Length > 0) await log.WriteAsync(partial.ToString(), cancellationToken);
        return EngineResult.Ok();
    }

    public async Task<EngineResult> PushAsync(EnginePushRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var colon = request.Destination.LastIndexOf(':');
        var repository = request.Destination[..colon];
        var tag = request.Destination[(colon + 1)..];
        using (var tagRequest = new HttpRequestMessage(HttpMethod.Post, $"images/{Uri.EscapeDataString(request.LocalImage)}/tag?repo={Uri.EscapeDataString(repository)}&tag={Uri.EscapeDataString(tag)}"))
        using (var tagged = await docker.SendAsync(tagRequest, cancellationToken))
        {
            if (!tagged.IsSuccessStatusCode)
            {
                return EngineResult.Fail($"The Docker Engine could not tag the image ({(int)tagged.StatusCode}): {(await tagged.Content.ReadAsStringAsync(cancellationToken)).Trim()}");
            }
        }
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, $"images/{Uri.EscapeDataString(repository)}/push?tag={Uri.EscapeDataString(tag)}");
            var host = repository[..repository.IndexOf('/', StringComparison.Ordinal)];
            var auth = request.Login is { } login
                ? new DockerAuth { Username = login.Username, Password = login.Password, ServerAddress = host }
                : new DockerAuth();
            message.Headers.Add("X-Registry-Auth", DockerEngineClient.EncodeHeader(auth, DockerJson.Default.DockerAuth));
            await log.WriteAsync($"docker engine: push {request.Destination}", cancellationToken);
            using var response = await docker.SendAsync(message, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
                await log.WriteAsync(body, cancellationToken);
                return EngineResult.Fail($"The Docker Engine refused the push ({(int)response.StatusCode}): {body}",
                    response.StatusCode is HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError);
            }
            string? digest = null;
            await foreach (var item in DockerEngineClient.ReadMessagesAsync(response, cancellationToken))
            {
                if (item.Error is { } error)
                {
                    await log.WriteAsync(error, cancellationToken);
                    return EngineResult.Fail(error.Trim(), Buildah.BuildahEngine.IsTransient(error));
                }
                if (item.Aux is { ValueKind: JsonValueKind.Object } aux && aux.TryGetProperty("Digest", out var d)) digest = d.GetString();
                if (item.Status is { } status && item.Progress is null)
                {
                    await log.WriteAsync(item.Id is null ? status : $"{item.Id}: {status}", cancellationToken);
                }
            }
            return EngineResult.Ok(digest);
        }
        finally
        {
            using var untag = new HttpRequestMessage(HttpMethod.Delete, $"images/{Uri.EscapeDataString(request.Destination)}?noprune=1");
            using var _ = await docker.SendAsync(untag, CancellationToken.None);
        }
    }

    public async Task<bool> HasImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"images/{Uri.EscapeDataString(localImage)}/json");
        using var response = await docker.SendAsync(request, cancellationToken);
        return response.IsSuccessStatusCode;
    }

    public async Task RemoveImageAsync(string @namespace, string localImage, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"images/{Uri.EscapeDataString(localImage)}?noprune=1");
        using var _ = await docker.SendAsync(request, cancellationToken);
    }

    /// <summary>The daemon removes a build's containers when its request ends; here only the user-namespace check is left to say.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        try
        {
            var daemon = await DaemonAsync(cancellationToken);
            if (!daemon.UserNamespaces) LogNoUserNamespaces(logger);
        }
        catch (HttpRequestException e)
        {
            LogDaemonUnreachable(logger, options.DockerHost, e.Message);
        }
    }

    private async Task<EngineResult> PullAsync(string reference, EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var (name, tag) = SplitReference(reference);
        var query = $"images/create?fromImage={Uri.EscapeDataString(name)}&tag={Uri.EscapeDataString(tag)}";
        if (request.Platform is { } platform) query += "&platform=" + Uri.EscapeDataString(platform);
        using var message = new HttpRequestMessage(HttpMethod.Post, query);
        var host = name[..name.IndexOf('/', StringComparison.Ordinal)];
        var auth = request.PullLogins.FirstOrDefault(l => string.Equals(l.Host, host, StringComparison.OrdinalIgnoreCase)) is { } login
            ? new DockerAuth { Username = login.Username, Password = login.Password, ServerAddress = host }
            : new DockerAuth();
        message.Headers.Add("X-Registry-Auth", DockerEngineClient.EncodeHeader(auth, DockerJson.Default.DockerAuth));
        using var response = await docker.SendAsync(message, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            await log.WriteAsync((await response.Content.ReadAsStringAsync(cancellationToken)).Trim(), cancellationToken);
            return EngineResult.Fail("Pulling an image the Dockerfile names failed; see the build log.");
        }
        await foreach (var item in DockerEngineClient.ReadMessagesAsync(response, cancellationToken))
        {
            if (item.Error is { } error)
            {
                await log.WriteAsync(error.Trim(), cancellationToken);
                return EngineResult.Fail("Pulling an image the Dockerfile names failed; see the build log.");
            }
        }
        return EngineResult.Ok();
    }

    private async Task<BaseImageInfo> InspectAsync(string reference, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"images/{Uri.EscapeDataString(reference)}/json");
        using var response = await docker.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode) return new BaseImageInfo([], []);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        static IReadOnlyList<string> Strings(JsonElement root, string name) =>
            root.TryGetProperty("Config", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
                : [];
        return new BaseImageInfo(Strings(json.RootElement, "Env"), Strings(json.RootElement, "OnBuild"));
    }

    /// <summary>The local repository holding a namespace's cache images (its built images, by build id).</summary>
    private static string CacheRepository(string @namespace) =>
        "wharf-cache/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(@namespace)))[..16];

    private async Task<List<string>> CacheImagesAsync(string repository, CancellationToken cancellationToken)
    {
        var filters = JsonSerializer.Serialize(new Dictionary<string, List<string>> { ["reference"] = [repository] }, DockerJson.Default.DictionaryStringListString);
        using var request = new HttpRequestMessage(HttpMethod.Get, "images/json?filters=" + Uri.EscapeDataString(filters));
        using var response = await docker.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode) return [];
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return json.RootElement.EnumerateArray()
            .OrderByDescending(i => i.TryGetProperty("Created", out var c) ? c.GetInt64() : 0)
            .SelectMany(i => i.TryGetProperty("RepoTags", out var tags) && tags.ValueKind == JsonValueKind.Array ? tags.EnumerateArray().Select(t => t.GetString()!) : [])
            .Where(t => t.StartsWith(repository + ":", StringComparison.Ordinal))
            .ToList();
    }

    private async Task TagAsync(string image, string repository, string tag, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"images/{Uri.EscapeDataString(image)}/tag?repo={Uri.EscapeDataString(repository)}&tag={Uri.EscapeDataString(tag)}");
        using var _ = await docker.SendAsync(request, cancellationToken);
    }

    /// <summary>Keeps the namespace's newest cache images; older ones are untagged (their layers go when nothing else uses them).</summary>
    private async Task PruneCacheAsync(string repository, CancellationToken cancellationToken)
    {
        foreach (var old in (await CacheImagesAsync(repository, cancellationToken)).Skip(CacheImagesPerNamespace))
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"images/{Uri.EscapeDataString(old)}");
            using var _ = await docker.SendAsync(request, cancellationToken);
        }
    }

    private static async Task MonitorAsync(BuildSandbox? sandbox, Action<string> hit, CancellationToken cancellationToken)
    {
        if (sandbox is null) return;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                if (sandbox.LimitReached() == SandboxLimit.Processes)
                {
                    hit(nameof(BuildOptions.MaxProcesses));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string LimitMessage(string limit) => limit == nameof(BuildOptions.MaxProcesses)
        ? $"The build ran into its process limit (Wharf:Builds:MaxProcesses = {options.MaxProcesses.ToString(CultureInfo.InvariantCulture)}) and was stopped."
        : $"The build ran into the limit {limit}.";

    private async Task<DaemonInfo> DaemonAsync(CancellationToken cancellationToken)
    {
        if (_daemon is { } known) return known;
        using var request = new HttpRequestMessage(HttpMethod.Get, "info");
        using var response = await docker.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var root = json.RootElement;
        var cgroupfs = root.TryGetProperty("CgroupDriver", out var driver) && driver.GetString() == "cgroupfs";
        var userns = root.TryGetProperty("SecurityOptions", out var security) && security.ValueKind == JsonValueKind.Array
            && security.EnumerateArray().Any(s => s.GetString()?.Contains("name=userns", StringComparison.Ordinal) == true);
        return _daemon = new DaemonInfo(cgroupfs, userns);
    }

    private static (string Name, string Tag) SplitReference(string reference)
    {
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0) return (reference[..at], reference[(at + 1)..]);
        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
    }

    private static async Task FlushLinesAsync(StringBuilder partial, IBuildLog log, CancellationToken cancellationToken)
    {
        var text = partial.ToString();
        var last = text.LastIndexOf('\n');
        if (last < 0) return;
        foreach (var line in text[..last].Split('\n')) await log.WriteAsync(line.TrimEnd('\r'), cancellationToken);
        partial.Clear().Append(text, last + 1, text.Length - last - 1);
    }

    private sealed record DaemonInfo(bool CgroupFs, bool UserNamespaces);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Docker daemon does not remap users (dockerd --userns-remap): root in a build is root on the host. Use the buildah engine, or start dockerd with --userns-remap.")]
    private static partial void LogNoUserNamespaces(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Docker daemon at {Host} did not answer: {Message}")]
    private static partial void LogDaemonUnreachable(ILogger logger, string host, string message);
}
