using Microsoft.AspNetCore.DataProtection;
using Wharf.Core.Builds;

namespace Wharf.Builds.Credentials;

/// <summary>Encrypts stored registry secrets with ASP.NET Data Protection (keys under <c>&lt;data&gt;/keys/dataprotection</c>).</summary>
public sealed class DataProtectionSecretProtector(IDataProtectionProvider provider) : ISecretProtector
{
    private readonly IDataProtector _protector = provider.CreateProtector("Wharf.Builds.RegistryCredentials.v1");

    public string Protect(string secret) => _protector.Protect(secret);

    public string Unprotect(string protectedSecret) => _protector.Unprotect(protectedSecret);
}
