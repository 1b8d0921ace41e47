using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;

namespace Wharf.Client.Docker;

/// <summary>
/// The Docker Engine API over its unix socket (<c>DOCKER_HOST=unix://…</c>, else <c>/var/run/docker.sock</c>): enough to save an
/// image as a docker-archive stream and to load one. Plain HttpClient; the socket is reached through
/// <see cref="SocketsHttpHandler.ConnectCallback"/>.
/// </summary>
public sealed class DockerEngineClient : IDisposable
{
    private readonly HttpClient _http;

    public DockerEngineClient(string socketPath)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://docker/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public string SocketPath { get; }

    /// <summary>The daemon <c>DOCKER_HOST</c> names, or the default socket; null when DOCKER_HOST is not a unix socket.</summary>
    public static DockerEngineClient? FromEnvironment()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (string.IsNullOrEmpty(host)) return new DockerEngineClient("/var/run/docker.sock");
        return host.StartsWith("unix://", StringComparison.Ordinal) ? new DockerEngineClient(host["unix://".Length..]) : null;
    }

    /// <summary>True when <c>GET /_ping</c> answers OK within <paramref name="timeout"/>.</summary>
    public async Task<bool> IsReachableAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!File.Exists(SocketPath)) return false;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await _http.GetAsync("_ping", cts.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or SocketException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary><c>GET /images/{name}/get</c> (docker save) into <paramref name="path"/>.</summary>
    public async Task SaveImageAsync(string name, string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"images/{Uri.EscapeDataString(name)}/get", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new WharfClientException(ClientErrorKind.NotFound, $"The Docker daemon has no image {name}; build or tag it first, or push a file with --from.");
        }
        await EnsureSuccessAsync(response, $"saving {name}", cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous);
        var buffer = new byte[1024 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            progress?.Report(total += read);
        }
    }

    /// <summary>True when the daemon has an image of that name (<c>GET /images/{name}/json</c>).</summary>
    public async Task<bool> ImageExistsAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"images/{Uri.EscapeDataString(name)}/json", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, $"inspecting {name}", cancellationToken);
        return true;
    }

    /// <summary><c>POST /images/load</c> with a docker-archive; returns the daemon's messages ("Loaded image: …").</summary>
    public async Task<IReadOnlyList<string>> LoadImageAsync(string archivePath, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1024 * 1024, FileOptions.Asynchronous);
        using var content = new StreamContent(file, 1024 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var response = await _http.PostAsync("images/load?quiet=1", content, cancellationToken);
        await EnsureSuccessAsync(response, "loading the image", cancellationToken);
        var messages = new List<string>();
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("error", out var error))
                {
                    throw new WharfClientException(ClientErrorKind.Failure, $"docker load failed: {error.GetString()}");
                }
                if (doc.RootElement.TryGetProperty("stream", out var stream) && stream.GetString() is { Length: > 0 } s) messages.Add(s.Trim());
            }
            catch (JsonException)
            {
                messages.Add(line);
            }
        }
        return messages;
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string message = body;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("message", out var m)) message = m.GetString() ?? body;
        }
        catch (JsonException)
        {
        }
        throw new WharfClientException(ClientErrorKind.Failure, $"The Docker daemon failed {what}: {message.Trim()}");
    }

    public void Dispose() => _http.Dispose();
}
