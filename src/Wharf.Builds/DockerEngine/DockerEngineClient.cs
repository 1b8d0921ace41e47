using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wharf.Builds.DockerEngine;

/// <summary>The Docker Engine HTTP API over its unix socket (no CLI): the few calls a build needs.</summary>
public sealed class DockerEngineClient : IDisposable
{
    private readonly HttpClient _http;

    public DockerEngineClient(string dockerHost)
    {
        ArgumentException.ThrowIfNullOrEmpty(dockerHost);
        var socketPath = dockerHost.StartsWith("unix://", StringComparison.Ordinal) ? dockerHost["unix://".Length..] : dockerHost;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://docker/v1.41/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Sends a request and returns the response with its body still streaming.</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    /// <summary>Reads the engine's JSON-lines progress stream, one message at a time.</summary>
    public static async IAsyncEnumerable<DockerMessage> ReadMessagesAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0) continue;
            DockerMessage? message;
            try
            {
                message = JsonSerializer.Deserialize(line, DockerJson.Default.DockerMessage);
            }
            catch (JsonException)
            {
                message = new DockerMessage { Stream = line };
            }
            if (message is not null) yield return message;
        }
    }

    /// <summary>base64url JSON, as X-Registry-Auth and X-Registry-Config want it.</summary>
    public static string EncodeHeader<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo)).Replace('+', '-').Replace('/', '_');

    public void Dispose() => _http.Dispose();
}

/// <summary>One line of the engine's progress stream.</summary>
public sealed class DockerMessage
{
    [JsonPropertyName("stream")] public string? Stream { get; set; }
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("progress")] public string? Progress { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("errorDetail")] public DockerErrorDetail? ErrorDetail { get; set; }
    [JsonPropertyName("aux")] public JsonElement? Aux { get; set; }
}

public sealed class DockerErrorDetail
{
    [JsonPropertyName("code")] public int? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

/// <summary>One registry's entry in X-Registry-Auth / X-Registry-Config.</summary>
public sealed class DockerAuth
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("serveraddress")] public string? ServerAddress { get; set; }
}

[JsonSerializable(typeof(DockerMessage))]
[JsonSerializable(typeof(DockerAuth))]
[JsonSerializable(typeof(Dictionary<string, DockerAuth>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
internal sealed partial class DockerJson : JsonSerializerContext;
