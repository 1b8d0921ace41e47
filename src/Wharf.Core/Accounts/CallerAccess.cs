using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Core.Accounts;

/// <summary>
/// What a caller may see and change, in a form a store can turn into a SQL filter (search, repository listings):
/// a repository <c>ns/…</c> is readable when <see cref="IsAdmin"/>, when its namespace is in
/// <see cref="ReadableNamespaces"/>, or when it is public and <see cref="SeesPublic"/>; changeable (create, update) when
/// its namespace is in <see cref="WritableNamespaces"/> or an administrator's credential allows push
/// (<see cref="AdminActions"/>); deletable (repositories, tags) when its namespace is in <see cref="DeletableNamespaces"/>
/// or an administrator's credential allows delete, the same rule as deletes on <c>/v2/</c>.
/// </summary>
public sealed record CallerAccess(string? Username, bool IsAdmin, bool SeesPublic, IReadOnlyList<string> ReadableNamespaces, IReadOnlyList<string> WritableNamespaces)
{
    /// <summary>Namespaces whose repositories and tags the caller may delete (null: the same as <see cref="WritableNamespaces"/>).</summary>
    public IReadOnlyList<string>? DeletableNamespaces { get; init; }

    /// <summary>What an administrator's credential allows everywhere (a personal access token limits it); all for <c>Open</c> mode.</summary>
    public RegistryActions AdminActions { get; init; } = RepositoryPermissions.All;

    public bool CanRead(string repository, RepositoryVisibility visibility) =>
        IsAdmin
        || (SeesPublic && visibility == RepositoryVisibility.Public)
        || (AccountName.NamespaceOf(repository) is { } ns && ReadableNamespaces.Contains(ns));

    public bool CanWrite(string repository) =>
        (IsAdmin && AdminActions.HasFlag(RegistryActions.Push)) || (AccountName.NamespaceOf(repository) is { } ns && WritableNamespaces.Contains(ns));

    public bool CanDelete(string repository) =>
        (IsAdmin && AdminActions.HasFlag(RegistryActions.Delete))
        || (AccountName.NamespaceOf(repository) is { } ns && (DeletableNamespaces ?? WritableNamespaces).Contains(ns));
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

/// <summary>
/// The accounts mode: the caller's own namespace and organization roles, limited by the credential's scopes. A registry
/// token or internal credential brings at most "pull" (a registry token that may search), so it lists and changes nothing
/// of its subject's beyond that; an administrator reads everything and changes what the credential allows.
/// </summary>
public sealed class AccountsCallerAccess(RepositoryPermissions permissions) : ICallerAccess
{
    public async ValueTask<CallerAccess> GetAsync(ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var username = caller.Username();
        if (username is null) return new CallerAccess(null, false, permissions.Options.AnonymousPull, [], []);
        var limit = caller.ActionLimit();
        var method = caller.Method();
        // A registry token says nothing of its subject's role: an administrator's token that may search reads everything.
        var isAdmin = limit.HasFlag(RegistryActions.Pull) && method is not Caller.Internal
            && (method is Caller.Bearer ? await permissions.IsAdminAsync(username, cancellationToken) : caller.IsAdmin());
        var roles = await permissions.GetMembershipsAsync(username, cancellationToken);
        var readable = new List<string>();
        var writable = new List<string>();
        var deletable = new List<string>();
        void Add(string ns, bool maintains)
        {
            if (limit.HasFlag(RegistryActions.Pull)) readable.Add(ns);
            if (maintains && limit.HasFlag(RegistryActions.Push)) writable.Add(ns);
            if (maintains && limit.HasFlag(RegistryActions.Delete)) deletable.Add(ns);
        }
        Add(username, true);
        foreach (var (org, role) in roles) Add(org, role != OrganizationRole.Reader);
        return new CallerAccess(username, isAdmin, limit.HasFlag(RegistryActions.Pull), readable, writable)
        {
            DeletableNamespaces = deletable,
            AdminActions = isAdmin ? limit : RegistryActions.None,
        };
    }
}
