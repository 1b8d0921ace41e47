using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Core.Builds;

namespace Wharf.Builds.DockerEngine;

/// <summary>
/// Builds with the Docker Engine: <c>POST /build</c> with the context tar (base-image credentials in
/// <c>X-Registry-Config</c>), then tag and <c>POST /images/{name}/push</c> with <c>X-Registry-Auth</c>. Progress
/// lines become log lines. Cancelling the request stops the build.
/// </summary>
public sealed class DockerBuildEngine(DockerEngineClient docker, BuildOptions options) : IBuildEngine
{
    public string Name => "docker";

    public async Task<EngineResult> BuildAsync(EngineBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
    {
        var query = new StringBuilder("build?rm=1&forcerm=1&t=").Append(Uri.EscapeDataString(request.LocalImage))
            .Append("&dockerfile=").Append(Uri.EscapeDataString(request.DockerfilePath))
            .Append("&memory=").Append((long)options.MemoryLimitMiB * 1024 * 1024);
        if (!options.AllowNetwork) query.Append("&networkmode=none");
        if (request.BuildArgs.Count > 0)
        {
            query.Append("&buildargs=").Append(Uri.EscapeDataString(JsonSerializer.Serialize(request.BuildArgs.ToDictionary(), DockerJson.Default.DictionaryStringString)));
        }
        if (request.Target is { } target) query.Append("&target=").Append(Uri.EscapeDataString(target));
        if (request.Platform is { } platform) query.Append("&platform=").Append(Uri.EscapeDataString(platform));
        await using var context = new FileStream(request.ContextArchive, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        using var message = new HttpRequestMessage(HttpMethod.Post, query.ToString()) { Content = new StreamContent(context) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        var config = request.PullLogins.ToDictionary(l => l.Host, l => new DockerAuth { Username = l.Username, Password = l.Password, ServerAddress = l.Host });
        message.Headers.Add("X-Registry-Config", DockerEngineClient.EncodeHeader(config, DockerJson.Default.DictionaryStringDockerAuth));
        await log.WriteAsync($"docker engine: POST /build -t {request.LocalImage}", cancellationToken);
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

    private static async Task FlushLinesAsync(StringBuilder partial, IBuildLog log, CancellationToken cancellationToken)
    {
        var text = partial.ToString();
        var last = text.LastIndexOf('\n');
        if (last < 0) return;
        foreach (var line in text[..last].Split('\n')) await log.WriteAsync(line.TrimEnd('\r'), cancellationToken);
        partial.Clear().Append(text, last + 1, text.Length - last - 1);
    }
}
