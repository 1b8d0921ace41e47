using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Server.Errors;

namespace Wharf.Server.Http;

/// <summary>
/// The one JSON body reader of <c>/api</c>. It takes at most the endpoint's limit (<see cref="BodyLimits"/>) from the
/// request, counting while it reads (a <c>Content-Length</c> over the limit is refused before reading; a chunked body
/// is cut off once it passes the limit), keeps what it read in the request pipe's pooled segments and parses it in
/// place. Every failure is a problem: 415 not JSON, 413 too large, 400 empty, malformed or of the wrong shape.
/// </summary>
public static class ApiBody
{
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadJsonAsync<T>(HttpContext context, JsonTypeInfo<T> type) where T : class
    {
        var request = context.Request;
        if (!request.HasJsonContentType()) return (null, ApiProblems.UnsupportedMediaType("Send a JSON body with Content-Type: application/json."));
        var limit = BodyLimits.For(context);
        if (request.ContentLength > limit) return (null, ApiProblems.TooLarge(limit));
        var reader = request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                var buffer = read.Buffer;
                if (buffer.Length > limit)
                {
                    reader.AdvanceTo(buffer.End);
                    return (null, ApiProblems.TooLarge(limit));
                }
                if (read.IsCompleted || read.IsCanceled)
                {
                    try
                    {
                        return Parse(buffer, type);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.End);
                    }
                }
                reader.AdvanceTo(buffer.Start, buffer.End); // keep it all; wait for more
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, ApiProblems.TooLarge(limit));
        }
        catch (BadHttpRequestException e)
        {
            return (null, ApiProblems.Invalid($"The request body could not be read: {e.Message}"));
        }
    }

    private static (T? Value, ProblemHttpResult? Problem) Parse<T>(ReadOnlySequence<byte> body, JsonTypeInfo<T> type) where T : class
    {
        if (body.IsEmpty) return (null, ApiProblems.Invalid("A JSON body is required."));
        try
        {
            var json = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
            var value = JsonSerializer.Deserialize(ref json, type);
            if (json.Read()) return (null, ApiProblems.Invalid("The body has more than one JSON value."));
            return value is null ? (null, ApiProblems.Invalid("A JSON object is required.")) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, ApiProblems.Invalid($"The body is not valid JSON for this request: {e.Message}"));
        }
    }
}
