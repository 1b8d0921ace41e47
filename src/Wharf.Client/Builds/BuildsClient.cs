using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Wharf.Client.Api;
using Wharf.Client.Credentials;

namespace Wharf.Client.Builds;

/// <summary>
/// Wharf's builds API (<c>/api/v1/builds</c>): submit a context or a Dockerfile, list, show, read or follow the log,
/// retry, cancel. Credentials and errors as <see cref="ApiClient"/>; no overall timeout (a context upload and a followed
/// log last as long as they last; cancel with the token).
/// </summary>
public sealed class BuildsClient(Uri server, RegistryCredential? credential, HttpMessageHandler? transport = null)
    : ApiClient(server, credential, transport, Timeout.InfiniteTimeSpan)
{
    /// <summary><c>POST /api/v1/builds</c> (multipart): the context streamed as a tar.gz, or the Dockerfile alone.</summary>
    public async Task<BuildInfo> SubmitAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var form = new MultipartFormDataContent();
        if (request.ContextDirectory is { } directory)
        {
            if (!Directory.Exists(directory)) throw new WharfClientException(ClientErrorKind.InvalidInput, $"The context folder '{directory}' does not exist.");
            var root = Path.GetFullPath(directory);
            var dockerfile = Path.GetFullPath(request.DockerfilePath ?? DefaultDockerfile(root), root);
            var relative = Path.GetRelativePath(root, dockerfile);
            if (relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"The Dockerfile '{request.DockerfilePath}' must be inside the context folder '{directory}'.");
            }
            if (!File.Exists(dockerfile)) throw new WharfClientException(ClientErrorKind.InvalidInput, NoDockerfile(request.DockerfilePath, dockerfile));
            form.Add(new ContextTarContent(root), "context", "context.tar.gz");
            form.Add(new StringContent(relative.Replace('\\', '/')), "dockerfile_path");
        }
        else
        {
            var dockerfile = request.DockerfilePath ?? DefaultDockerfile(".");
            if (!File.Exists(dockerfile)) throw new WharfClientException(ClientErrorKind.InvalidInput, NoDockerfile(request.DockerfilePath, Path.GetFullPath(dockerfile)));
            var part = new StreamContent(File.OpenRead(dockerfile));
            part.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
            form.Add(part, "dockerfile", "Dockerfile");
        }
        form.Add(new StringContent(request.Image), "image");
        if (request.BuildArgs.Count > 0)
        {
            form.Add(new StringContent(JsonSerializer.Serialize(new Dictionary<string, string>(request.BuildArgs), BuildsJsonContext.Default.DictionaryStringString)), "build_args");
        }
        if (request.Target is { } target) form.Add(new StringContent(target), "target");
        if (request.Platform is { } platform) form.Add(new StringContent(platform), "platform");
        using var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/builds") { Content = form };
        using var response = await SendRawAsync(message, cancellationToken);
        return await ReadAsync(response, BuildsJsonContext.Default.BuildInfo, cancellationToken);
    }

    /// <summary>The folder's <c>Dockerfile</c>, else its <c>Containerfile</c> (as docker and podman accept), else the missing <c>Dockerfile</c>.</summary>
    public static string DefaultDockerfile(string folder)
    {
        var dockerfile = Path.Combine(folder, "Dockerfile");
        var containerfile = Path.Combine(folder, "Containerfile");
        return !File.Exists(dockerfile) && File.Exists(containerfile) ? containerfile : dockerfile;
    }

    private static string NoDockerfile(string? given, string looked) => given is null
        ? $"No Dockerfile (nor Containerfile) in '{Path.GetDirectoryName(looked)}': give one with -f."
        : $"No Dockerfile at '{looked}'.";

    /// <summary><c>GET /api/v1/builds/{id}</c>.</summary>
    public Task<BuildInfo> GetAsync(string id, CancellationToken cancellationToken) =>
        SendAsync<object, BuildInfo>(HttpMethod.Get, $"api/v1/builds/{Escape(id)}", null, null, BuildsJsonContext.Default.BuildInfo, cancellationToken);

    /// <summary><c>GET /api/v1/builds</c>: the caller's builds, newest first, one page of at most <paramref name="limit"/>.</summary>
    public Task<BuildPage> ListAsync(string? state, string? repository, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var query = new List<string>();
        if (!string.IsNullOrEmpty(state)) query.Add("state=" + Uri.EscapeDataString(state));
        if (!string.IsNullOrEmpty(repository)) query.Add("repository=" + Uri.EscapeDataString(repository));
        if (limit is { } l) query.Add("limit=" + l.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(cursor)) query.Add("cursor=" + Uri.EscapeDataString(cursor));
        return SendAsync<object, BuildPage>(HttpMethod.Get, "api/v1/builds" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), null, null,
            BuildsJsonContext.Default.BuildPage, cancellationToken);
    }

    /// <summary><c>POST /api/v1/builds/{id}/retry</c>: a failed push is pushed again without rebuilding.</summary>
    public Task<BuildInfo> RetryAsync(string id, CancellationToken cancellationToken) =>
        SendAsync<object, BuildInfo>(HttpMethod.Post, $"api/v1/builds/{Escape(id)}/retry", null, null, BuildsJsonContext.Default.BuildInfo, cancellationToken);

    /// <summary><c>POST /api/v1/builds/{id}/cancel</c>.</summary>
    public Task<BuildInfo> CancelAsync(string id, CancellationToken cancellationToken) =>
        SendAsync<object, BuildInfo>(HttpMethod.Post, $"api/v1/builds/{Escape(id)}/cancel", null, null, BuildsJsonContext.Default.BuildInfo, cancellationToken);

    /// <summary><c>GET /api/v1/builds/{id}/logs</c>: the log so far, one timestamped line each.</summary>
    public async Task<string> GetLogsAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, $"api/v1/builds/{Escape(id)}/logs"), cancellationToken);
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }

    /// <summary>
    /// <c>GET /api/v1/builds/{id}/logs?follow=true</c> (server-sent events): each stored line as it comes, then one
    /// end event with the final state. A stream cut before the end yields an end with state <c>unknown</c>.
    /// </summary>
    public async IAsyncEnumerable<BuildLogEvent> FollowLogsAsync(string id, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/builds/{Escape(id)}/logs?follow=true");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendRawAsync(request, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var eventName = "message";
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal)) eventName = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var data = line.Length > 5 && line[5] == ' ' ? line[6..] : line[5..];
                if (eventName == "end")
                {
                    yield return new BuildLogEvent(null, data);
                    yield break;
                }
                yield return new BuildLogEvent(data, null);
            }
            else if (line.Length == 0) eventName = "message";
        }
        yield return new BuildLogEvent(null, "unknown");
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        try
        {
            return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken)
                ?? throw new WharfClientException(ClientErrorKind.Failure, "The builds API answered an empty body.");
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The builds API answered something that is not the expected JSON: {e.Message}");
        }
    }

    private static string Escape(string id) => Uri.EscapeDataString(id);
}
