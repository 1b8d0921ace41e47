using System.Security.Claims;
using Wharf.Core.Access;

namespace Wharf.Server.Accounts;

/// <summary>One entry of a token's <c>access</c> claim: <c>{"type","name","actions"}</c>.</summary>
public sealed record AccessEntry(string Type, string Name, IReadOnlyList<string> Actions);

/// <summary>What a verified token grants, for quick lookups by the access policy.</summary>
public sealed class TokenGrants
{
    private readonly Dictionary<string, RegistryActions> _repositories = new(StringComparer.Ordinal);

    public TokenGrants(IReadOnlyList<AccessEntry> entries)
    {
        Entries = entries;
        foreach (var entry in entries)
        {
            if (entry.Type == "registry" && entry.Name == "catalog")
            {
                if (entry.Actions.Contains("*")) Catalog = true;
                if (entry.Actions.Contains("*") || entry.Actions.Contains("search")) Search = true;
            }
            if (entry.Type != "repository") continue;
            _repositories.TryGetValue(entry.Name, out var actions);
            _repositories[entry.Name] = actions | ScopeParser.ParseActions(entry.Actions);
        }
    }

    public IReadOnlyList<AccessEntry> Entries { get; }

    /// <summary><c>registry:catalog:*</c>: the caller may list the catalog (<c>/v2/_catalog</c>).</summary>
    public bool Catalog { get; }

    /// <summary><c>registry:catalog:search</c> (or <c>*</c>): the caller may search (<c>/v1/search</c>) what its subject may pull.</summary>
    public bool Search { get; }

    public RegistryActions For(string repository) => _repositories.TryGetValue(repository, out var actions) ? actions : RegistryActions.None;
}

/// <summary>
/// A caller authenticated by a signed token: a registry bearer token, or an internal credential presented with
/// Basic auth. The access policy decides from <see cref="Grants"/> alone, without the database.
/// </summary>
public sealed class TokenPrincipal : ClaimsPrincipal
{
    public TokenPrincipal(string subject, bool isInternal, TokenGrants grants, DateTimeOffset expiresAt, bool pullsAsSubject = false, long credentialVersion = 0)
        : base(new ClaimsIdentity(SubjectClaims(subject, isInternal, grants, credentialVersion), isInternal ? "Internal" : "Bearer", WharfClaims.Subject, null))
    {
        IsInternal = isInternal;
        PullsAsSubject = isInternal && pullsAsSubject;
        Grants = grants;
        ExpiresAt = expiresAt;
    }

    public bool IsInternal { get; }

    /// <summary>
    /// An internal credential of a build: besides <see cref="Grants"/>, it may pull what its subject may pull (judged per
    /// request from the user's permissions, not from the token). Never true on a bearer token.
    /// </summary>
    public bool PullsAsSubject { get; }

    /// <summary>
    /// An anonymous token (empty <c>sub</c>) carries no subject claim, so the caller has no user name. A bearer token
    /// that may search carries the one scope "pull", which lets listings (<c>/v1/search</c>) show what its subject may pull;
    /// everything else it may do is in <see cref="Grants"/>, which only the registry's access policy reads.
    /// </summary>
    private static IEnumerable<Claim> SubjectClaims(string subject, bool isInternal, TokenGrants grants, long credentialVersion)
    {
        if (subject.Length > 0)
        {
            yield return new Claim(WharfClaims.Subject, subject);
            yield return new Claim(WharfClaims.CredentialVersion, credentialVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        yield return new Claim(WharfClaims.AuthMethod, isInternal ? Core.Accounts.Caller.Internal : Core.Accounts.Caller.Bearer);
        if (!isInternal && grants.Search) yield return new Claim(WharfClaims.TokenScope, "pull");
    }

    public TokenGrants Grants { get; }

    public DateTimeOffset ExpiresAt { get; }
}

/// <summary>Parses the token flow's scope grammar: <c>type[(class)]:name:actions</c>, several per parameter separated by spaces.</summary>
public static class ScopeParser
{
    public sealed record RequestedScope(string Type, string Name, IReadOnlyList<string> Actions);

    public static IEnumerable<RequestedScope> Parse(IEnumerable<string?> values)
    {
        foreach (var value in values)
        {
            if (string.IsNullOrEmpty(value)) continue;
            foreach (var item in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var first = item.IndexOf(':');
                var last = item.LastIndexOf(':');
                if (first <= 0 || last <= first + 1) continue;
                var type = item[..first];
                var paren = type.IndexOf('(');
                if (paren > 0) type = type[..paren];
                var actions = item[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                yield return new RequestedScope(type, item[(first + 1)..last], actions);
            }
        }
    }

    public static RegistryActions ParseActions(IEnumerable<string> actions)
    {
        var result = RegistryActions.None;
        foreach (var action in actions)
        {
            result |= action switch
            {
                "pull" => RegistryActions.Pull,
                "push" => RegistryActions.Push,
                "delete" => RegistryActions.Delete,
                "*" => RegistryActions.Pull | RegistryActions.Push | RegistryActions.Delete,
                _ => RegistryActions.None,
            };
        }
        return result;
    }

    public static IReadOnlyList<string> FormatActions(RegistryActions actions)
    {
        var list = new List<string>(3);
        if (actions.HasFlag(RegistryActions.Pull)) list.Add("pull");
        if (actions.HasFlag(RegistryActions.Push)) list.Add("push");
        if (actions.HasFlag(RegistryActions.Delete)) list.Add("delete");
        return list;
    }
}
