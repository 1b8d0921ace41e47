namespace Wharf.Core.Accounts;

/// <summary>
/// Counts revocations and password changes on this node, so that caches of verified credentials drop what they
/// hold at once (other nodes notice within <see cref="AuthOptions.CredentialCacheTtl"/>).
/// </summary>
public sealed class CredentialChanges
{
    private long _generation;

    public long Generation => Interlocked.Read(ref _generation);

    public void Changed() => Interlocked.Increment(ref _generation);
}
