using System.Security.Claims;
using Wharf.Core.Accounts;
using Wharf.Core.References;
using Wharf.Core.Repositories;
using Wharf.Core.Retention;

namespace Wharf.Core.Policies;

/// <summary>
/// Reading and setting immutable tag rules and retention rules (callers who may push to and delete from the repository)
/// and namespace quotas (administrators set them; members of the namespace read them with its usage).
/// </summary>
public sealed class PolicyService(IPolicyStore store, IRetentionStore retention, IRepositoryStore repositories, ICallerAccess callerAccess, RepositoryVisibility defaultVisibility)
{
    public async ValueTask<RepositoryResult<RetentionPolicy>> GetRetentionAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken)
    {
        if (await ReadableAsync(caller, repository, cancellationToken) is { } error) return error;
        var policy = await retention.GetAsync(repository, cancellationToken);
        if (policy is null) return NotFound(repository);
        return policy;
    }

    /// <summary>Replaces the repository's retention rules; a policy with no rule removes them.</summary>
    public async ValueTask<RepositoryResult<RetentionPolicy>> SetRetentionAsync(ClaimsPrincipal caller, string repository, RetentionPolicy policy, CancellationToken cancellationToken)
    {
        if (policy.Problem() is { } problem) return new RepositoryError(RepositoryProblem.Invalid, problem);
        if (await ReadableAsync(caller, repository, cancellationToken) is { } error) return error;
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (!access.CanWrite(repository) || !access.CanDelete(repository))
        {
            return new RepositoryError(RepositoryProblem.Forbidden, $"Only those who may push to and delete from '{repository}' set its retention rules.");
        }
        if (!await retention.SetAsync(repository, policy, cancellationToken)) return NotFound(repository);
        return policy;
    }

    public async ValueTask<RepositoryResult<IReadOnlyList<string>>> GetImmutableTagsAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken)
    {
        if (await ReadableAsync(caller, repository, cancellationToken) is { } error) return error;
        var patterns = await store.GetImmutableTagsAsync(repository, cancellationToken);
        return patterns is null ? NotFound(repository) : new RepositoryResult<IReadOnlyList<string>>(patterns, null);
    }

    public async ValueTask<RepositoryResult<IReadOnlyList<string>>> SetImmutableTagsAsync(ClaimsPrincipal caller, string repository, IReadOnlyList<string?>? patterns, CancellationToken cancellationToken)
    {
        if (patterns is null) return new RepositoryError(RepositoryProblem.Invalid, "Give \"patterns\": a list of regular expressions, each matched against the whole tag.");
        if (ImmutableTagRules.Problem(patterns) is { } problem) return new RepositoryError(RepositoryProblem.Invalid, problem);
        if (await ReadableAsync(caller, repository, cancellationToken) is { } error) return error;
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (!access.CanWrite(repository) || !access.CanDelete(repository))
        {
            return new RepositoryError(RepositoryProblem.Forbidden, $"Only those who may push to and delete from '{repository}' set its immutable tags.");
        }
        IReadOnlyList<string> clean = [.. patterns.Select(p => p!).Distinct(StringComparer.Ordinal)];
        return await store.SetImmutableTagsAsync(repository, clean, cancellationToken) ? new RepositoryResult<IReadOnlyList<string>>(clean, null) : NotFound(repository);
    }

    public async ValueTask<RepositoryResult<NamespaceUsage>> GetUsageAsync(ClaimsPrincipal caller, string @namespace, CancellationToken cancellationToken)
    {
        if (AccountName.Problem(@namespace) is { } problem) return new RepositoryError(RepositoryProblem.Invalid, problem);
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (!access.IsAdmin && !access.ReadableNamespaces.Contains(@namespace))
        {
            return access.Username is null
                ? new RepositoryError(RepositoryProblem.Unauthenticated, "Sign in to see a namespace's usage.")
                : new RepositoryError(RepositoryProblem.NotFound, $"No namespace '{@namespace}' that you belong to.");
        }
        return await store.GetUsageAsync(@namespace, cancellationToken);
    }

    public async ValueTask<RepositoryResult<NamespaceUsage>> SetQuotaAsync(ClaimsPrincipal caller, string @namespace, long? bytes, CancellationToken cancellationToken)
    {
        if (AccountName.Problem(@namespace) is { } problem) return new RepositoryError(RepositoryProblem.Invalid, problem);
        if (bytes is < 0) return new RepositoryError(RepositoryProblem.Invalid, "bytes is a whole number of bytes, 0 or more (null removes the quota).");
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (!access.IsAdmin || (access.Username is not null && !caller.IsAdministrating()))
        {
            return access.Username is null
                ? new RepositoryError(RepositoryProblem.Unauthenticated, "Sign in as an administrator to set quotas.")
                : new RepositoryError(RepositoryProblem.Forbidden, "Only administrators set quotas.");
        }
        await store.SetQuotaAsync(@namespace, bytes, cancellationToken);
        return await store.GetUsageAsync(@namespace, cancellationToken);
    }

    private async ValueTask<RepositoryError?> ReadableAsync(ClaimsPrincipal caller, string repository, CancellationToken cancellationToken)
    {
        if (!RepositoryName.IsValid(repository)) return new RepositoryError(RepositoryProblem.Invalid, $"'{repository}' is not a repository name.");
        var info = await repositories.GetAsync(repository, defaultVisibility, cancellationToken);
        var access = await callerAccess.GetAsync(caller, cancellationToken);
        if (info is null || !access.CanRead(repository, info.Visibility))
        {
            return access.Username is null && !access.IsAdmin && info is not null
                ? new RepositoryError(RepositoryProblem.Unauthenticated, "Sign in to see this repository.")
                : NotFound(repository);
        }
        return null;
    }

    private static RepositoryError NotFound(string repository) => new(RepositoryProblem.NotFound, $"No repository '{repository}'.");
}
