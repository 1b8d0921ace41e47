using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Wharf.Core.Accounts;

namespace Wharf.Server.Endpoints;

public sealed record SignUpRequest(string? Username, string? Password, string? Email);
public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);
public sealed record CreateTokenRequest(string? Name, List<string?>? Scopes, DateTimeOffset? ExpiresAt, int? ExpiresInDays);
public sealed record CreateOrganizationRequest(string? Name);
public sealed record SetMemberRequest(string? Role);
public sealed record PatchRepositoryRequest(string? Visibility);

public sealed record MembershipResponse(string Name, string Role);
public sealed record UserResponse(string Username, string? Email, bool IsAdmin, DateTimeOffset CreatedAt, string? AuthMethod, List<MembershipResponse>? Organizations);
public sealed record TokenResponse(long Id, string Name, string Prefix, List<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, string? Token);
public sealed record TokenListResponse(List<TokenResponse> Tokens);
public sealed record MemberResponse(string Username, string Role, DateTimeOffset AddedAt);
public sealed record OrganizationResponse(string Name, DateTimeOffset CreatedAt, List<MemberResponse> Members);
public sealed record OrganizationListResponse(List<MembershipResponse> Organizations);
public sealed record MemberListResponse(string Organization, List<MemberResponse> Members);
public sealed record RepositoryVisibilityResponse(string Namespace, string Name, string Repository, string Visibility);
public sealed record AuditEventResponse(long Id, DateTimeOffset At, string? Actor, string? ClientAddress, string Action, string? Target, bool Success, string? Detail);
public sealed record AuditPageResponse(List<AuditEventResponse> Events, string? NextCursor);
public sealed record RegistryTokenResponse(string Token, string AccessToken, int ExpiresIn, DateTimeOffset IssuedAt, string? RefreshToken, string? Scope);

/// <summary>Source-generated, snake_case JSON for the accounts surfaces.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(SignUpRequest))]
[JsonSerializable(typeof(ChangePasswordRequest))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(CreateOrganizationRequest))]
[JsonSerializable(typeof(SetMemberRequest))]
[JsonSerializable(typeof(PatchRepositoryRequest))]
[JsonSerializable(typeof(UserResponse))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(TokenListResponse))]
[JsonSerializable(typeof(OrganizationResponse))]
[JsonSerializable(typeof(OrganizationListResponse))]
[JsonSerializable(typeof(MemberListResponse))]
[JsonSerializable(typeof(RepositoryVisibilityResponse))]
[JsonSerializable(typeof(AuditPageResponse))]
[JsonSerializable(typeof(RegistryTokenResponse))]
public sealed partial class AccountsJsonContext : JsonSerializerContext;

/// <summary>Reading JSON bodies and writing RFC 7807 problems for <c>/api/v1</c>: bad input is a clear 4xx, never a 500.</summary>
public static class ApiIo
{
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The body as <typeparamref name="T"/>, or a problem (415 wrong content type, 400 malformed or missing, 413 too large).</summary>
    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem("Send a JSON body with Content-Type: application/json.", statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type"));
        }
        if (request.ContentLength > MaxBodyBytes) return (null, TooLarge());
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxBodyBytes) return (null, TooLarge());
        }
        if (buffer.Length == 0) return (null, Invalid("A JSON body is required.", null));
        try
        {
            var value = JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type);
            return value is null ? (null, Invalid("A JSON object is required.", null)) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, Invalid($"The body is not valid JSON for this request: {e.Message}", null));
        }
    }

    private static IResult TooLarge() => TypedResults.Problem($"The body is larger than {MaxBodyBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large");

    public static IResult Invalid(string detail, string? field) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request",
        extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    public static IResult Problem(AccountError error) => error.Kind switch
    {
        AccountErrorKind.Invalid => Invalid(error.Message, error.Field),
        AccountErrorKind.Unauthorized => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized"),
        AccountErrorKind.Forbidden => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden"),
        AccountErrorKind.NotFound => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status404NotFound, title: "Not found"),
        _ => TypedResults.Problem(error.Message, statusCode: StatusCodes.Status409Conflict, title: "Conflict",
            extensions: error.Field is null ? null : new Dictionary<string, object?> { ["field"] = error.Field }),
    };

    public static IResult Unauthenticated() => TypedResults.Problem("Log in first: Basic credentials or a bearer token.", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");

    public static TokenResponse ToResponse(AccessTokenInfo token, string? secret) =>
        new(token.Id, token.Name, token.Prefix, [.. AccountText.Format(token.Scopes)], token.CreatedAt, token.ExpiresAt, token.LastUsedAt, secret);

    public static OrganizationResponse ToResponse(OrganizationDetails details) =>
        new(details.Organization.Name, details.Organization.CreatedAt,
            [.. details.Members.Select(m => new MemberResponse(m.Username, AccountText.Format(m.Role), m.AddedAt))]);
}
