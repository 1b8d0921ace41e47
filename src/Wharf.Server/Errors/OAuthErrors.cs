using System.Text.Json;

namespace Wharf.Server.Errors;

/// <summary>Writes the OAuth 2 error shape of <c>/auth/token</c>: <c>{"error","error_description"}</c> (RFC 6749 §5.2).</summary>
public static class OAuthErrors
{
    public static async Task WriteAsync(HttpContext context, int status, string error, string description)
    {
        var response = context.Response;
        if (response.HasStarted) return;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        var body = JsonSerializer.SerializeToUtf8Bytes(new OAuthError(error, description), ErrorsJsonContext.Default.OAuthError);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, CancellationToken.None);
    }
}

public sealed record OAuthError(string Error, string ErrorDescription);

/// <summary>The earlier build service's error answer, field for field.</summary>
public sealed record LegacyError(int Status, string Message);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(OAuthError))]
[System.Text.Json.Serialization.JsonSerializable(typeof(LegacyError))]
internal sealed partial class ErrorsJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
