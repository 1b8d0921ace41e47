using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>
/// What a caller may see and change, in a form a store can turn into a SQL filter (search, repository listings):
/// a repository <c>ns/…</c> is readable when <see cref="IsAdmin"/>, when its namespace is in
/// <see cref="ReadableNamespaces"/>, or when it is public and <see cref="SeesPublic"/>; writable when
/// <see cref="IsAdmin"/> or its namespace is in <see cref="WritableNamespaces"/>.
/// </summary>
public sealed record CallerAccess(string? Username, bool IsAdmin, bool SeesPublic, IReadOnlyList<string> ReadableNamespaces, IReadOnlyList<string> WritableNamespaces)
{
    public bool CanRead(string repository, RepositoryVisibility visibility) =>
        IsAdmin
        || (SeesPublic && visibility == RepositoryVisibility.Public)
        || (AccountName.NamespaceOf(repository) is { } ns && ReadableNamespaces.Contains(ns));

    public bool CanWrite(string repository) =>
        IsAdmin || (AccountName.NamespaceOf(repository) is { } ns && WritableNamespaces.Contains(ns));
}

/// <summary>Computes <see cref="CallerAccess"/> for a caller.</summary>
public interface ICallerAccess
{
    ValueTask<CallerAccess> GetAsync(ClaimsPrincipal caller, CancellationToken cancellationToken);
}

/// <summary><c>Auth:Mode=Open</c>: everyone sees and changes everything.</summary>
public sealed class OpenCallerAccess : ICallerAccess
{
    private static readonly CallerAccess Everything = new(null, true, true, [], []);

    public ValueTask<CallerAccess> GetAsync(ClaimsPrincipal caller, CancellationToken cancellationToken) => ValueTask.FromResult(Everything);
}

/// <summary>The accounts mode: the caller's own namespace and organization roles, limited by the credential's scopes.</summary>
public sealed class AccountsCallerAccess(RepositoryPermissions permissions) : ICallerAccess
{
    public async ValueTask<CallerAccess> GetAsync(ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var username = caller.Username();
        if (username is null) return new CallerAccess(null, false, permissions.Options.AnonymousPull, [], []);
        var limit = caller.ActionLimit();
        var isAdmin = caller.IsAdmin() && limit == RepositoryPermissions.All && caller.Method() is not (Caller.Internal or Caller.Bearer);
        var roles = await permissions.GetMembershipsAsync(username, cancellationToken);
        var readable = new List<string>();
        var writable = new List<string>();
        if (limit.HasFlag(RegistryActions.Pull)) readable.Add(username);
        if (limit.HasFlag(RegistryActions.Push)) writable.Add(username);
        foreach (var (org, role) in roles)
        {
            if (limit.HasFlag(RegistryActions.Pull)) readable.Add(org);
            if (role != OrganizationRole.Reader && limit.HasFlag(RegistryActions.Push)) writable.Add(org);
        }
        return new CallerAccess(username, isAdmin, limit.HasFlag(RegistryActions.Pull), readable, writable);
    }
}
