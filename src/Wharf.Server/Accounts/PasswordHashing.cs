using Microsoft.AspNetCore.Identity;
using Wharf.Core.Accounts;

namespace Wharf.Server.Accounts;

/// <summary>Passwords hashed with the framework's PBKDF2 <see cref="PasswordHasher{TUser}"/> (v3 format, HMAC-SHA512).</summary>
public sealed class PasswordHashing : IPasswordHashing
{
    private static readonly PasswordHasher<object> Hasher = new();
    private static readonly object User = new();

    public string Hash(string password) => Hasher.HashPassword(User, password);

    public bool Verify(string hash, string password, out bool rehash)
    {
        rehash = false;
        try
        {
            var result = Hasher.VerifyHashedPassword(User, hash, password);
            rehash = result == PasswordVerificationResult.SuccessRehashNeeded;
            return result != PasswordVerificationResult.Failed;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
