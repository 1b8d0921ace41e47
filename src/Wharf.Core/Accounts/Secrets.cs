using System.Security.Cryptography;
using System.Text;

namespace Wharf.Core.Accounts;

/// <summary>
/// Random secrets (personal access tokens, refresh tokens) and their stored form. These are 256-bit random values,
/// so a SHA-256 hash is enough to store them (a slow password hash adds nothing against guessing 2^256 values)
/// and lets a token be found by its hash in one indexed lookup.
/// </summary>
public static class Secrets
{
    /// <summary>Prefix of personal access tokens, so that they are recognisable (and scannable) in config files.</summary>
    public const string AccessTokenPrefix = "wharf_pat_";

    public const string RefreshTokenPrefix = "wharf_rt_";

    public static string NewAccessToken() => AccessTokenPrefix + RandomPart();

    public static string NewRefreshToken() => RefreshTokenPrefix + RandomPart();

    public static bool LooksLikeAccessToken(string secret) => secret.StartsWith(AccessTokenPrefix, StringComparison.Ordinal);

    public static bool LooksLikeRefreshToken(string secret) => secret.StartsWith(RefreshTokenPrefix, StringComparison.Ordinal);

    /// <summary>Lower-case hex SHA-256 of the UTF-8 text.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string RandomPart() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
