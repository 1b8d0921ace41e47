using System.Text;

namespace Wharf.Client.Credentials;

/// <summary>
/// A user name and a secret (password or personal access token) for one registry, or an identity token: the refresh
/// token that <c>docker login</c> (and <c>wharf login</c>) store instead of the password when the registry's token
/// service hands one out. With an identity token, <see cref="Secret"/> is empty and tokens are got with the OAuth2
/// refresh-token grant, as docker does; Wharf's REST API takes it as a bearer token.
/// </summary>
public sealed record RegistryCredential(string UserName, string Secret)
{
    /// <summary>docker's <c>identitytoken</c>; null for a user name and password.</summary>
    public string? IdentityToken { get; init; }

    public bool HasIdentityToken => !string.IsNullOrEmpty(IdentityToken);

    /// <summary>A stored identity token (docker writes <c>auth</c> as base64("user:") beside it).</summary>
    public static RegistryCredential ForIdentityToken(string userName, string identityToken) => new(userName, "") { IdentityToken = identityToken };

    /// <summary>base64("user:secret"), the value of a Basic Authorization header and of docker's <c>auth</c> field.</summary>
    public string BasicValue => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{UserName}:{Secret}"));

    public static RegistryCredential? FromBasicValue(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Convert.FromBase64String(value));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = text.IndexOf(':');
        return colon <= 0 ? null : new RegistryCredential(text[..colon], text[(colon + 1)..]);
    }

    public override string ToString() => HasIdentityToken ? $"{UserName} (identity token)" : $"{UserName}:***";
}

/// <summary>Where credentials for a registry host come from.</summary>
public interface ICredentialStore
{
    Task<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken);
}
