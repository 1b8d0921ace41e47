using System.Text.Json.Serialization;

namespace Wharf.Client.Credentials;

/// <summary>The credential-helper protocol's JSON (<c>docker-credential-NAME get|store</c>).</summary>
public sealed class CredentialHelperPayload
{
    public string? ServerURL { get; set; }
    public string? Username { get; set; }
    public string? Secret { get; set; }
}

[JsonSerializable(typeof(CredentialHelperPayload))]
internal sealed partial class CredentialJsonContext : JsonSerializerContext;
