namespace Wharf.Core.Accounts;

/// <summary>How the server authenticates callers (<c>Wharf:Auth:Mode</c>).</summary>
public enum AuthMode
{
    /// <summary>Accounts, namespaces, access control and the Docker token flow. The default.</summary>
    Accounts,

    /// <summary>No accounts: anyone may do anything. For trusted single-user setups.</summary>
    Open,
}

/// <summary>Whether anyone may create an account through <c>POST /api/v1/users</c>.</summary>
public enum SignUpMode
{
    /// <summary>Anyone may sign up. The default.</summary>
    Open,

    /// <summary>Only an administrator may create accounts (through the API or <c>wharf user add</c>); the very first account is always allowed.</summary>
    Closed,
}

/// <summary>Section <c>Wharf:Auth</c>: accounts, tokens and access control.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary><c>Accounts</c> (default) or <c>Open</c> (no accounts, everything allowed).</summary>
    public AuthMode Mode { get; set; } = AuthMode.Accounts;

    /// <summary>Whether anonymous callers may pull public repositories. Default true.</summary>
    public bool AnonymousPull { get; set; } = true;

    /// <summary><c>Open</c> (default) or <c>Closed</c>.</summary>
    public SignUpMode SignUp { get; set; } = SignUpMode.Open;

    /// <summary>Visibility of a repository created by its first push: <c>Private</c> (default) or <c>Public</c>.</summary>
    public RepositoryVisibility DefaultVisibility { get; set; } = RepositoryVisibility.Private;

    /// <summary>
    /// Whether repositories of the reserved <c>library</c> namespace and one-component names (<c>busybox</c>), which only
    /// administrators may create, start public, as Docker Hub's official images are: other users' builds can then say
    /// <c>FROM HOST/library/busybox</c>. Default true; false gives them <see cref="DefaultVisibility"/> too.
    /// </summary>
    public bool PublicLibrary { get; set; } = true;

    /// <summary>
    /// Namespaces whose repositories come into being when they are first pulled (the pull-through cache's proxy
    /// namespaces, filled from <c>Wharf:Proxy:Namespaces:&lt;ns&gt;:Visibility</c>), with the visibility their repositories
    /// get, ahead of the rules above. Default empty.
    /// </summary>
    public Dictionary<string, RepositoryVisibility> PullThroughNamespaces { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Whether any name Wharf lacks comes into being when it is pulled (the pull-through cache's mirror mode, <c>Wharf:Proxy:Mirror</c>). Default false.</summary>
    public bool PullThroughMirror { get; set; }

    /// <summary>Whether a repository that does not exist yet may be pulled into being (by the pull-through cache).</summary>
    public bool MayExistOnPull(string repository) =>
        PullThroughMirror || (PullThroughNamespaces.Count > 0 && AccountName.NamespaceOf(repository) is { } ns && PullThroughNamespaces.ContainsKey(ns));

    /// <summary>The visibility a new repository gets when its creator names none.</summary>
    public RepositoryVisibility DefaultVisibilityFor(string repository)
    {
        var ns = AccountName.NamespaceOf(repository);
        if (ns is not null && PullThroughNamespaces.Count > 0 && PullThroughNamespaces.TryGetValue(ns, out var configured)) return configured;
        return PublicLibrary && ns is null or "library" ? RepositoryVisibility.Public : DefaultVisibility;
    }

    /// <summary>The <c>service</c> of the token flow and the audience of issued tokens. Default <c>wharf</c>.</summary>
    public string Service { get; set; } = "wharf";

    /// <summary>The <c>iss</c> claim of issued tokens. Default <c>wharf-token-service</c>.</summary>
    public string Issuer { get; set; } = "wharf-token-service";

    /// <summary>Lifetime of registry bearer tokens. Default 5 minutes; at least 60 seconds (the token spec's minimum).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Lifetime of refresh tokens (<c>offline_token=true</c>, <c>access_type=offline</c>). Default 30 days.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// PEM file with the ES256 signing key, created on first start, for an operator who manages the key as a file. Default
    /// none: the key is created once for the installation and kept in the metadata database (encrypted with the master key
    /// when one is given), where every node finds it.
    /// </summary>
    public string? SigningKeyPath { get; set; }

    /// <summary>
    /// Failed logins allowed for one user name from one client address within <see cref="FailedLoginWindow"/>; after
    /// that, that user at that address waits for the window to end (429 with <c>Retry-After</c>). The same user at any
    /// other address, and other users at the same address, are not affected. Default 10.
    /// </summary>
    public int MaxFailedLogins { get; set; } = 10;

    /// <summary>
    /// Failed logins from one client address (any user names) within the window after which that address's further
    /// <em>failing</em> attempts are slowed by <see cref="FailedLoginDelay"/> and answered 429. A correct credential from
    /// it still signs in at once. Default 50.
    /// </summary>
    public int MaxFailedLoginsPerAddress { get; set; } = 50;

    /// <summary>
    /// Failed logins for one user name (from any addresses) within the window after which further <em>failing</em>
    /// attempts for that name are slowed by <see cref="FailedLoginDelay"/> and answered 429, so that guessing spread over
    /// many addresses gains little. The user's correct password still signs in at once. Default 50.
    /// </summary>
    public int MaxFailedLoginsPerUser { get; set; } = 50;

    /// <summary>How long a slowed failing attempt waits before it is answered. Default 2 seconds.</summary>
    public TimeSpan FailedLoginDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The window over which failed logins are counted; also the longest <c>Retry-After</c>. Default 5 minutes.</summary>
    public TimeSpan FailedLoginWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Refresh tokens (sessions) kept per user; a new one beyond this ends the least recently used. Default 100.</summary>
    public int MaxSessionsPerUser { get; set; } = 100;

    /// <summary>How long a verified Basic credential and a caller's namespace roles are cached. Default 10 seconds.</summary>
    public TimeSpan CredentialCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<string> Validate()
    {
        if (!Enum.IsDefined(Mode)) yield return $"Wharf:Auth:Mode '{Mode}' is not known; allowed values: {string.Join(", ", Enum.GetNames<AuthMode>())}.";
        if (!Enum.IsDefined(SignUp)) yield return $"Wharf:Auth:SignUp '{SignUp}' is not known; allowed values: {string.Join(", ", Enum.GetNames<SignUpMode>())}.";
        if (!Enum.IsDefined(DefaultVisibility)) yield return $"Wharf:Auth:DefaultVisibility '{DefaultVisibility}' is not known; allowed values: {string.Join(", ", Enum.GetNames<RepositoryVisibility>())}.";
        if (string.IsNullOrWhiteSpace(Service)) yield return "Wharf:Auth:Service must not be empty.";
        if (string.IsNullOrWhiteSpace(Issuer)) yield return "Wharf:Auth:Issuer must not be empty.";
        if (TokenLifetime < TimeSpan.FromSeconds(60) || TokenLifetime > TimeSpan.FromDays(1)) yield return $"Wharf:Auth:TokenLifetime must be between 00:01:00 and 1.00:00:00, not {TokenLifetime}.";
        if (RefreshTokenLifetime < TimeSpan.FromMinutes(1)) yield return $"Wharf:Auth:RefreshTokenLifetime must be at least 00:01:00, not {RefreshTokenLifetime}.";
        if (MaxFailedLogins < 1) yield return $"Wharf:Auth:MaxFailedLogins must be at least 1, not {MaxFailedLogins}.";
        if (MaxFailedLoginsPerAddress < 1) yield return $"Wharf:Auth:MaxFailedLoginsPerAddress must be at least 1, not {MaxFailedLoginsPerAddress}.";
        if (MaxFailedLoginsPerUser < 1) yield return $"Wharf:Auth:MaxFailedLoginsPerUser must be at least 1, not {MaxFailedLoginsPerUser}.";
        if (FailedLoginDelay < TimeSpan.Zero || FailedLoginDelay > TimeSpan.FromMinutes(1)) yield return $"Wharf:Auth:FailedLoginDelay must be between 00:00:00 and 00:01:00, not {FailedLoginDelay}.";
        if (MaxSessionsPerUser < 1) yield return $"Wharf:Auth:MaxSessionsPerUser must be at least 1, not {MaxSessionsPerUser}.";
        if (FailedLoginWindow < TimeSpan.FromSeconds(1)) yield return $"Wharf:Auth:FailedLoginWindow must be at least 00:00:01, not {FailedLoginWindow}.";
        if (CredentialCacheTtl < TimeSpan.Zero || CredentialCacheTtl > TimeSpan.FromMinutes(5)) yield return $"Wharf:Auth:CredentialCacheTtl must be between 00:00:00 and 00:05:00, not {CredentialCacheTtl}.";
    }
}
