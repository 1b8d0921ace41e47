using System.Security.Claims;
using Wharf.Core.Accounts;
using Wharf.Core.Registry;

namespace Wharf.Server.Accounts;

/// <summary>Audits pushes and deletes, and gives a repository its default visibility on its first manifest.</summary>
public sealed class AccountsRegistryEvents(AccountService accounts) : IRegistryEvents
{
    public Task ManifestPushedAsync(ClaimsPrincipal caller, string? clientAddress, string repository, string reference, string digest, CancellationToken cancellationToken) =>
        accounts.RecordPushAsync(new RequestOrigin(caller, clientAddress), repository, reference, digest, cancellationToken);

    public Task DeletedAsync(ClaimsPrincipal caller, string? clientAddress, string target, CancellationToken cancellationToken) =>
        accounts.RecordDeleteAsync(new RequestOrigin(caller, clientAddress), target, cancellationToken);
}
