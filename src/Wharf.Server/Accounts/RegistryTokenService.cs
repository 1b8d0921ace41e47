using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;

namespace Wharf.Server.Accounts;

/// <summary>
/// Issues and verifies the registry's signed tokens (JWT, ES256, <c>kid</c> in the header) as the Docker token
/// spec describes: <c>iss</c>, <c>sub</c>, <c>aud</c> (the service), <c>exp</c>, <c>nbf</c>, <c>iat</c>, <c>jti</c>
/// and the <c>access</c> claim. Verification needs only the key, never the database; a verified token's principal
/// is cached for the token's lifetime, keyed by the token text, so a hot manifest GET pays one dictionary lookup.
/// </summary>
public sealed class RegistryTokenService(TokenSigningKey key, AuthOptions options, TimeProvider time)
{
    /// <summary>Marks internal credentials (<c>wharf:use</c> = <c>internal</c>), the only tokens accepted as a Basic password.</summary>
    public const string UseClaim = "wharf:use";

    /// <summary>
    /// On an internal credential only (<c>wharf:pull</c> = <c>subject</c>): besides its <c>access</c> claim, the credential
    /// may pull whatever its subject may pull, judged per request. Ignored on any other token.
    /// </summary>
    public const string PullClaim = "wharf:pull";

    /// <summary>The subject's credential version when the token was issued (see <see cref="AccountStatus"/>).</summary>
    public const string VersionClaim = "wharf:ver";

    private const int MaxCachedTokens = 50_000;
    private const int MaxTokenLength = 16 * 1024;
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, TokenPrincipal> _verified = new(StringComparer.Ordinal);

    public sealed record IssuedToken(string Token, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

    public string KeyId => key.KeyId;

    public IssuedToken Issue(string subject, IReadOnlyList<AccessEntry> access, TimeSpan lifetime, bool isInternal = false, bool pullAsSubject = false, long credentialVersion = 0)
    {
        var now = time.GetUtcNow();
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expiresAt = issuedAt + lifetime;
        var header = Encode(writer =>
        {
            writer.WriteString("typ", "JWT");
            writer.WriteString("alg", "ES256");
            writer.WriteString("kid", key.KeyId);
        });
        var payload = Encode(writer =>
        {
            writer.WriteString("iss", options.Issuer);
            writer.WriteString("sub", subject);
            writer.WriteString("aud", options.Service);
            writer.WriteNumber("exp", expiresAt.ToUnixTimeSeconds());
            writer.WriteNumber("nbf", issuedAt.ToUnixTimeSeconds() - 1);
            writer.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            writer.WriteString("jti", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
            if (isInternal) writer.WriteString(UseClaim, "internal");
            if (isInternal && pullAsSubject) writer.WriteString(PullClaim, "subject");
            if (subject.Length > 0) writer.WriteNumber(VersionClaim, credentialVersion);
            writer.WriteStartArray("access");
            foreach (var entry in access)
            {
                writer.WriteStartObject();
                writer.WriteString("type", entry.Type);
                writer.WriteString("name", entry.Name);
                writer.WriteStartArray("actions");
                foreach (var action in entry.Actions) writer.WriteStringValue(action);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        });
        var signingInput = header + "." + payload;
        var signature = key.Key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new IssuedToken(signingInput + "." + Base64Url.EncodeToString(signature), issuedAt, expiresAt);
    }

    /// <summary>
    /// Verifies signature, <c>kid</c>, <c>alg</c>, <c>iss</c>, <c>aud</c>, <c>exp</c> and <c>nbf</c>. An internal
    /// credential verifies only when <paramref name="internalOnly"/>; a bearer token only when it is not.
    /// </summary>
    public TokenPrincipal? Verify(string token, bool internalOnly = false)
    {
        var now = time.GetUtcNow();
        if (_verified.TryGetValue(token, out var cached))
        {
            if (cached.ExpiresAt + ClockSkew > now && cached.IsInternal == internalOnly) return cached;
            if (cached.ExpiresAt + ClockSkew <= now) _verified.TryRemove(token, out _);
            return null;
        }
        var principal = VerifyUncached(token, now);
        if (principal is null || principal.IsInternal != internalOnly) return null;
        if (_verified.Count >= MaxCachedTokens) _verified.Clear();
        _verified[token] = principal;
        return principal;
    }

    private TokenPrincipal? VerifyUncached(string token, DateTimeOffset now)
    {
        if (token.Length > MaxTokenLength) return null;
        var firstDot = token.IndexOf('.');
        var lastDot = token.LastIndexOf('.');
        if (firstDot <= 0 || lastDot <= firstDot + 1 || lastDot == token.Length - 1) return null;
        try
        {
            var header = Base64Url.DecodeFromChars(token.AsSpan(0, firstDot));
            var payload = Base64Url.DecodeFromChars(token.AsSpan(firstDot + 1, lastDot - firstDot - 1));
            var signature = Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
            using (var headerJson = JsonDocument.Parse(header))
            {
                var root = headerJson.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != "ES256"
                    || !root.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String || kid.GetString() != key.KeyId)
                {
                    return null;
                }
            }
            if (signature.Length != 64) return null;
            if (!key.Key.VerifyData(Encoding.ASCII.GetBytes(token.AsSpan(0, lastDot).ToString()), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                return null;
            }
            using var payloadJson = JsonDocument.Parse(payload);
            var claims = payloadJson.RootElement;
            if (claims.ValueKind != JsonValueKind.Object) return null;
            if (String(claims, "iss") != options.Issuer) return null;
            if (!AudienceMatches(claims)) return null;
            if (Number(claims, "exp") is not { } exp || DateTimeOffset.FromUnixTimeSeconds(exp) + ClockSkew <= now) return null;
            if (Number(claims, "nbf") is { } nbf && DateTimeOffset.FromUnixTimeSeconds(nbf) - ClockSkew > now) return null;
            if (String(claims, "sub") is not { } subject) return null;
            var entries = new List<AccessEntry>();
            if (claims.TryGetProperty("access", out var access))
            {
                if (access.ValueKind != JsonValueKind.Array) return null;
                foreach (var item in access.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || String(item, "type") is not { } type || String(item, "name") is not { } name) return null;
                    if (!item.TryGetProperty("actions", out var actionsJson) || actionsJson.ValueKind != JsonValueKind.Array) return null;
                    var actions = new List<string>();
                    foreach (var a in actionsJson.EnumerateArray())
                    {
                        if (a.ValueKind != JsonValueKind.String) return null;
                        actions.Add(a.GetString()!);
                    }
                    entries.Add(new AccessEntry(type, name, actions));
                }
            }
            var isInternal = String(claims, UseClaim) == "internal";
            var pullsAsSubject = isInternal && subject.Length > 0 && String(claims, PullClaim) == "subject";
            var version = Number(claims, VersionClaim) ?? 0;
            return new TokenPrincipal(subject, isInternal, new TokenGrants(entries), DateTimeOffset.FromUnixTimeSeconds(exp), pullsAsSubject, version);
        }
        catch (Exception e) when (e is FormatException or JsonException or CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    private bool AudienceMatches(JsonElement claims)
    {
        if (!claims.TryGetProperty("aud", out var aud)) return false;
        if (aud.ValueKind == JsonValueKind.String) return aud.GetString() == options.Service;
        if (aud.ValueKind != JsonValueKind.Array) return false;
        foreach (var item in aud.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.GetString() == options.Service) return true;
        }
        return false;
    }

    private static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? Number(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;

    private static string Encode(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return Base64Url.EncodeToString(buffer.WrittenSpan);
    }
}
