using System.Text;

namespace Wharf.Client.Credentials;

/// <summary>A user name and a secret (password or personal access token) for one registry.</summary>
public sealed record RegistryCredential(string UserName, string Secret)
{
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

    public override string ToString() => $"{UserName}:***";
}

/// <summary>Where credentials for a registry host come from.</summary>
public interface ICredentialStore
{
    Task<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken);
}
