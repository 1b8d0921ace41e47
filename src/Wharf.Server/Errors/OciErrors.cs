using System.Buffers;
using System.Text.Json;
using Wharf.Core.Registry;

namespace Wharf.Server.Errors;

/// <summary>Writes the OCI error envelope <c>{"errors":[{"code","message","detail"}]}</c>: the one place errors of <c>/v2/</c> are shaped.</summary>
public static class OciErrors
{
    public static async Task WriteAsync(HttpResponse response, RegistryError error, CancellationToken cancellationToken)
    {
        if (response.HasStarted) return;
        response.StatusCode = error.Status;
        response.ContentType = "application/json; charset=utf-8";
        if (error.Code == RegistryErrorCode.TooManyRequests && !response.Headers.ContainsKey("Retry-After")) response.Headers.RetryAfter = "60";
        if (error.Code == RegistryErrorCode.Unavailable && !response.Headers.ContainsKey("Retry-After")) response.Headers.RetryAfter = "1";
        // Built in memory, then written in one async call: JsonSerializer flushes a writer over the response stream
        // synchronously, which Kestrel forbids (the response was cut off for every error that has a detail).
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("errors");
            writer.WriteStartObject();
            writer.WriteString("code", error.CodeText);
            writer.WriteString("message", error.Message);
            if (error.Detail is not null)
            {
                writer.WritePropertyName("detail");
                JsonSerializer.Serialize(writer, error.Detail, error.Detail.GetType(), DetailOptions);
            }
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
    }

    // Details are small anonymous objects built in Core; reflection-based serialization is fine for this cold path.
    private static readonly JsonSerializerOptions DetailOptions = new(JsonSerializerDefaults.Web);
}
