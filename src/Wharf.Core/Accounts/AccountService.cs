using System.Security.Claims;
using Wharf.Core.Access;
using Wharf.Core.References;

namespace Wharf.Core.Accounts;

/// <summary>Who asks, from where: the audit log records both.</summary>
public sealed record RequestOrigin(ClaimsPrincipal Caller, string? ClientAddress)
{
    public string? Actor => Caller.Username();
}

/// <summary>A credential that checked out: the user, how they proved it, and what a personal access token allows.</summary>
public sealed record AuthenticatedUser(UserAccount User, string Method, TokenScopes Scopes);

/// <summary>A personal access token just created: <see cref="Secret"/> is shown once and never stored.</summary>
public sealed record CreatedAccessToken(AccessTokenInfo Token, string Secret);

public sealed record OrganizationDetails(Organization Organization, IReadOnlyList<OrganizationMember> Members);

/// <summary>The account use cases: sign-up, credentials, personal access tokens, organizations and visibility.</summary>
public sealed class AccountService(IAccountStore store, IAuditLog audit, IPasswordHashing passwords, RepositoryPermissions permissions, CredentialChanges changes, AuthOptions options, TimeProvider time)
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 256;
    public const int MaxEmailLength = 254;
    public const int MaxTokenNameLength = 100;
    public const int MaxTokenLifetimeDays = 3650;

    public AuthOptions Options => options;

    // ---- users ----

    /// <summary>Sign-up (open, or closed to all but administrators); the first user of an instance is the administrator.</summary>
    public async Task<AccountResult<UserAccount>> SignUpAsync(RequestOrigin origin, string? username, string? password, string? email, CancellationToken cancellationToken)
    {
        if (ValidateNewUser(username, password, email) is { } invalid) return invalid;
        if (options.SignUp == SignUpMode.Closed && !origin.Caller.IsAdministrating() && await store.CountUsersAsync(cancellationToken) > 0)
        {
            return AccountError.Forbidden("Sign-up is closed on this instance; ask an administrator for an account.");
        }
        return await CreateUserAsync(origin, username!, password!, email, admin: false, cancellationToken);
    }

    /// <summary>Creates a user directly (the <c>wharf user add</c> admin verb): no sign-up policy.</summary>
    public async Task<AccountResult<UserAccount>> AddUserAsync(string? username, string? password, string? email, bool admin, CancellationToken cancellationToken)
    {
        if (ValidateNewUser(username, password, email) is { } invalid) return invalid;
        return await CreateUserAsync(new RequestOrigin(new ClaimsPrincipal(), "cli"), username!, password!, email, admin, cancellationToken);
    }

    private async Task<AccountResult<UserAccount>> CreateUserAsync(RequestOrigin origin, string username, string password, string? email, bool admin, CancellationToken cancellationToken)
    {
        var user = await store.CreateUserAsync(username, string.IsNullOrEmpty(email) ? null : email, passwords.Hash(password), admin, cancellationToken);
        if (user is null) return AccountError.Conflict($"The name '{username}' is taken.", "username");
        await audit.AppendAsync(new AuditEntry(origin.Actor ?? username, origin.ClientAddress, AuditActions.UserCreated, username, Detail: user.IsAdmin ? "admin" : null), cancellationToken);
        return user;
    }

    private static AccountError? ValidateNewUser(string? username, string? password, string? email)
    {
        if (AccountName.Problem(username) is { } nameProblem) return AccountError.Invalid(nameProblem, "username");
        if (PasswordProblem(password) is { } passwordProblem) return AccountError.Invalid(passwordProblem, "password");
        if (!string.IsNullOrEmpty(email) && (email.Length > MaxEmailLength || email.IndexOf('@') is <= 0 || email.IndexOf('@') == email.Length - 1
            || email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            return AccountError.Invalid("The email address is not valid.", "email");
        }
        return null;
    }

    private static string? PasswordProblem(string? password)
    {
        if (string.IsNullOrEmpty(password)) return "A password is required.";
        if (password.Length < MinPasswordLength || password.Length > MaxPasswordLength) return $"A password has {MinPasswordLength} to {MaxPasswordLength} characters.";
        if (password.Any(char.IsControl)) return "A password may not contain control characters.";
        return null;
    }

    public Task<UserAccount?> FindUserAsync(string username, CancellationToken cancellationToken) => store.FindUserAsync(username, cancellationToken);

    /// <summary>Checks a user name with a password or a personal access token. Null when they do not match (nothing says which part was wrong).</summary>
    public async Task<AuthenticatedUser?> AuthenticateAsync(string username, string secret, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(secret) || username.Length > AccountName.MaxLength || secret.Length > 4096) return null;
        if (Secrets.LooksLikeAccessToken(secret))
        {
            var byToken = await AuthenticateAccessTokenAsync(secret, cancellationToken);
            return byToken?.User.Name == username ? byToken : null;
        }
        var user = await store.FindUserAsync(username, cancellationToken);
        if (user is null)
        {
            // Same work as a real check, so that timing does not tell which names exist.
            passwords.Verify(DummyHash.Value, secret, out _);
            return null;
        }
        if (!passwords.Verify(user.PasswordHash, secret, out var rehash)) return null;
        if (rehash) await store.SetPasswordHashAsync(user.Id, passwords.Hash(secret), cancellationToken);
        return new AuthenticatedUser(user, Caller.Password, TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin);
    }

    /// <summary>The owner of an unexpired, unrevoked personal access token, or null.</summary>
    public async Task<AuthenticatedUser?> AuthenticateAccessTokenAsync(string secret, CancellationToken cancellationToken)
    {
        if (!Secrets.LooksLikeAccessToken(secret) || secret.Length > 256) return null;
        var found = await store.FindAccessTokenAsync(Secrets.Hash(secret), cancellationToken);
        if (found is null) return null;
        var now = time.GetUtcNow();
        if (found.Token.ExpiresAt is { } expires && expires <= now) return null;
        await store.TouchAccessTokenAsync(found.Token.Id, now, cancellationToken);
        return new AuthenticatedUser(found.User, Caller.AccessToken, found.Token.Scopes);
    }

    private Lazy<string> DummyHash => _dummyHash ??= new Lazy<string>(() => passwords.Hash("not-a-real-password"));
    private Lazy<string>? _dummyHash;

    public async Task<AccountResult<bool>> ChangePasswordAsync(RequestOrigin origin, string? currentPassword, string? newPassword, CancellationToken cancellationToken)
    {
        if (origin.Actor is not { } username) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        if (!origin.Caller.CanManageAccount()) return AccountError.Forbidden("Changing the password needs the password or a token with the 'admin' scope.");
        if (string.IsNullOrEmpty(currentPassword)) return AccountError.Invalid("The current password is required.", "current_password");
        if (PasswordProblem(newPassword) is { } problem) return AccountError.Invalid(problem, "new_password");
        var user = await store.FindUserAsync(username, cancellationToken);
        if (user is null || !passwords.Verify(user.PasswordHash, currentPassword, out _))
        {
            await audit.AppendAsync(new AuditEntry(username, origin.ClientAddress, AuditActions.PasswordChanged, username, Success: false, Detail: "wrong current password"), cancellationToken);
            return AccountError.Forbidden("The current password is wrong.");
        }
        await store.SetPasswordHashAsync(user.Id, passwords.Hash(newPassword!), cancellationToken);
        await store.RevokeRefreshTokensAsync(user.Id, cancellationToken);
        changes.Changed();
        await audit.AppendAsync(new AuditEntry(username, origin.ClientAddress, AuditActions.PasswordChanged, username), cancellationToken);
        return true;
    }

    // ---- personal access tokens ----

    public async Task<AccountResult<CreatedAccessToken>> CreateAccessTokenAsync(RequestOrigin origin, string? name, IReadOnlyList<string?>? scopes, DateTimeOffset? expiresAt, int? expiresInDays, CancellationToken cancellationToken)
    {
        if (await ManagingUserAsync(origin, cancellationToken) is not { } user) return NotManaging(origin);
        if (string.IsNullOrWhiteSpace(name) || name.Length > MaxTokenNameLength || name.Any(char.IsControl))
        {
            return AccountError.Invalid($"A token needs a name of 1 to {MaxTokenNameLength} characters without control characters.", "name");
        }
        if (scopes is null || scopes.Count == 0) return AccountError.Invalid("A token needs at least one scope: pull, push, delete or admin.", "scopes");
        var granted = TokenScopes.None;
        foreach (var scope in scopes)
        {
            if (!AccountText.TryParseScope(scope, out var s)) return AccountError.Invalid($"'{scope}' is not a scope; use pull, push, delete or admin.", "scopes");
            granted |= s;
        }
        // A token can only be as strong as the credential that creates it.
        if (!origin.Caller.Scopes().HasFlag(TokenScopes.Admin)) return AccountError.Forbidden("Creating tokens needs the password or a token with the 'admin' scope.");
        var now = time.GetUtcNow();
        if (expiresAt is not null && expiresInDays is not null) return AccountError.Invalid("Give expires_at or expires_in_days, not both.", "expires_at");
        if (expiresInDays is { } days)
        {
            if (days < 1 || days > MaxTokenLifetimeDays) return AccountError.Invalid($"expires_in_days is 1 to {MaxTokenLifetimeDays}.", "expires_in_days");
            expiresAt = now.AddDays(days);
        }
        if (expiresAt is { } at && (at <= now || at > now.AddDays(MaxTokenLifetimeDays))) return AccountError.Invalid("expires_at must be in the future (at most 10 years).", "expires_at");
        var secret = Secrets.NewAccessToken();
        var token = await store.CreateAccessTokenAsync(user.Id, name, secret[..(Secrets.AccessTokenPrefix.Length + 4)], Secrets.Hash(secret), granted, expiresAt, cancellationToken);
        await audit.AppendAsync(new AuditEntry(user.Name, origin.ClientAddress, AuditActions.TokenCreated, $"token:{token.Id}", Detail: string.Join(',', AccountText.Format(granted))), cancellationToken);
        return new CreatedAccessToken(token, secret);
    }

    public async Task<AccountResult<IReadOnlyList<AccessTokenInfo>>> ListAccessTokensAsync(RequestOrigin origin, CancellationToken cancellationToken)
    {
        if (origin.Actor is null) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        var user = await store.FindUserAsync(origin.Actor, cancellationToken);
        if (user is null) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        return new AccountResult<IReadOnlyList<AccessTokenInfo>>(await store.ListAccessTokensAsync(user.Id, cancellationToken), null);
    }

    public async Task<AccountResult<bool>> RevokeAccessTokenAsync(RequestOrigin origin, long tokenId, CancellationToken cancellationToken)
    {
        if (await ManagingUserAsync(origin, cancellationToken) is not { } user) return NotManaging(origin);
        if (!await store.RevokeAccessTokenAsync(user.Id, tokenId, cancellationToken)) return AccountError.NotFound($"You have no token {tokenId}.");
        changes.Changed();
        await audit.AppendAsync(new AuditEntry(user.Name, origin.ClientAddress, AuditActions.TokenRevoked, $"token:{tokenId}"), cancellationToken);
        return true;
    }

    // ---- refresh tokens ----

    public async Task<string> IssueRefreshTokenAsync(UserAccount user, string clientId, CancellationToken cancellationToken)
    {
        var secret = Secrets.NewRefreshToken();
        await store.StoreRefreshTokenAsync(Secrets.Hash(secret), user.Id, clientId, time.GetUtcNow() + options.RefreshTokenLifetime, cancellationToken);
        return secret;
    }

    /// <summary>The user a refresh token was issued to, or null when it is unknown, revoked or expired.</summary>
    public async Task<UserAccount?> RedeemRefreshTokenAsync(string refreshToken, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(refreshToken) || refreshToken.Length > 512) return null;
        var info = await store.FindRefreshTokenAsync(Secrets.Hash(refreshToken), cancellationToken);
        if (info is null || info.ExpiresAt <= time.GetUtcNow()) return null;
        return await store.FindUserByIdAsync(info.UserId, cancellationToken);
    }

    // ---- organizations ----

    public async Task<AccountResult<OrganizationDetails>> CreateOrganizationAsync(RequestOrigin origin, string? name, CancellationToken cancellationToken)
    {
        if (await ManagingUserAsync(origin, cancellationToken) is not { } user) return NotManaging(origin);
        if (AccountName.Problem(name) is { } problem) return AccountError.Invalid(problem, "name");
        var org = await store.CreateOrganizationAsync(name!, user.Id, cancellationToken);
        if (org is null) return AccountError.Conflict($"The name '{name}' is taken.", "name");
        permissions.InvalidateUser(user.Name);
        await audit.AppendAsync(new AuditEntry(user.Name, origin.ClientAddress, AuditActions.OrganizationCreated, org.Name), cancellationToken);
        return new OrganizationDetails(org, await store.ListMembersAsync(org.Id, cancellationToken));
    }

    /// <summary>An organization with its members, for its members and administrators (others get not-found, as if it did not exist).</summary>
    public async Task<AccountResult<OrganizationDetails>> GetOrganizationAsync(RequestOrigin origin, string name, CancellationToken cancellationToken)
    {
        if (origin.Actor is null) return new AccountError(AccountErrorKind.Unauthorized, "Log in first.");
        var org = AccountName.Problem(name) is null ? await store.FindOrganizationAsync(name, cancellationToken) : null;
        if (org is null) return AccountError.NotFound($"No organization '{name}'.");
        var members = await store.ListMembersAsync(org.Id, cancellationToken);
        if (!origin.Caller.IsAdmin() && members.All(m => m.Username != origin.Actor)) return AccountError.NotFound($"No organization '{name}'.");
        return new OrganizationDetails(org, members);
    }

    public async Task<AccountResult<OrganizationDetails>> SetMemberAsync(RequestOrigin origin, string orgName, string memberName, string? roleText, CancellationToken cancellationToken)
    {
        if (!AccountText.TryParseRole(roleText, out var role)) return AccountError.Invalid("role is one of owner, maintainer, reader.", "role");
        var owned = await OwnedOrganizationAsync(origin, orgName, cancellationToken);
        if (!owned.IsOk) return owned.Error!;
        var (org, members) = owned.Value!;
        var member = AccountName.Problem(memberName) is null ? await store.FindUserAsync(memberName, cancellationToken) : null;
        if (member is null) return AccountError.NotFound($"No user '{memberName}'.");
        if (role != OrganizationRole.Owner && IsLastOwner(members, memberName)) return AccountError.Conflict("An organization keeps at least one owner.", "role");
        await store.SetMemberAsync(org.Id, member.Id, role, cancellationToken);
        permissions.InvalidateUser(member.Name);
        await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.MemberSet, $"{org.Name}/{member.Name}", Detail: AccountText.Format(role)), cancellationToken);
        return new OrganizationDetails(org, await store.ListMembersAsync(org.Id, cancellationToken));
    }

    public async Task<AccountResult<OrganizationDetails>> RemoveMemberAsync(RequestOrigin origin, string orgName, string memberName, CancellationToken cancellationToken)
    {
        var owned = await OwnedOrganizationAsync(origin, orgName, cancellationToken);
        if (!owned.IsOk) return owned.Error!;
        var (org, members) = owned.Value!;
        var member = AccountName.Problem(memberName) is null ? await store.FindUserAsync(memberName, cancellationToken) : null;
        if (member is null || members.All(m => m.Username != memberName)) return AccountError.NotFound($"'{memberName}' is not a member of '{orgName}'.");
        if (IsLastOwner(members, memberName)) return AccountError.Conflict("An organization keeps at least one owner.", "user");
        await store.RemoveMemberAsync(org.Id, member.Id, cancellationToken);
        permissions.InvalidateUser(member.Name);
        await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.MemberRemoved, $"{org.Name}/{member.Name}"), cancellationToken);
        return new OrganizationDetails(org, await store.ListMembersAsync(org.Id, cancellationToken));
    }

    private static bool IsLastOwner(IReadOnlyList<OrganizationMember> members, string username) =>
        members.Any(m => m.Username == username && m.Role == OrganizationRole.Owner) && members.Count(m => m.Role == OrganizationRole.Owner) == 1;

    private async Task<AccountResult<OrganizationDetails>> OwnedOrganizationAsync(RequestOrigin origin, string orgName, CancellationToken cancellationToken)
    {
        if (await ManagingUserAsync(origin, cancellationToken) is null) return NotManaging(origin);
        var found = await GetOrganizationAsync(origin, orgName, cancellationToken);
        if (!found.IsOk) return found;
        var isOwner = found.Value!.Members.Any(m => m.Username == origin.Actor && m.Role == OrganizationRole.Owner);
        if (!isOwner && !origin.Caller.IsAdministrating()) return AccountError.Forbidden($"Only owners of '{orgName}' manage its members.");
        return found;
    }

    // ---- repositories ----

    /// <summary>Sets a repository's visibility: its namespace's user, an owner of its organization, or an administrator.</summary>
    public async Task<AccountResult<RepositoryVisibility>> SetVisibilityAsync(RequestOrigin origin, string repository, string? visibilityText, CancellationToken cancellationToken)
    {
        if (await ManagingUserAsync(origin, cancellationToken) is not { } user) return NotManaging(origin);
        if (!RepositoryName.IsValid(repository)) return AccountError.Invalid($"'{repository}' is not a valid repository name.", "name");
        if (!AccountText.TryParseVisibility(visibilityText, out var visibility)) return AccountError.Invalid("visibility is 'public' or 'private'.", "visibility");
        var actions = await permissions.GetActionsAsync(user.Name, origin.Caller.IsAdmin(), repository, cancellationToken);
        if (!actions.HasFlag(RegistryActions.Pull)) return AccountError.NotFound($"No repository '{repository}'.");
        var ns = AccountName.NamespaceOf(repository);
        var mayChange = origin.Caller.IsAdmin() || ns == user.Name
            || (ns is not null && (await permissions.GetMembershipsAsync(user.Name, cancellationToken)).TryGetValue(ns, out var role) && role == OrganizationRole.Owner);
        if (!mayChange) return AccountError.Forbidden($"Only the owners of '{ns ?? "the root namespace"}' change its repositories' visibility.");
        if (!await store.SetVisibilityAsync(repository, visibility, cancellationToken)) return AccountError.NotFound($"No repository '{repository}'.");
        permissions.InvalidateRepository(repository);
        await audit.AppendAsync(new AuditEntry(user.Name, origin.ClientAddress, AuditActions.VisibilityChanged, repository, Detail: AccountText.Format(visibility)), cancellationToken);
        return visibility;
    }

    /// <summary>Called after a manifest push: a new repository gets its default visibility (<see cref="AuthOptions.DefaultVisibilityFor"/>), and the push is audited.</summary>
    public async Task RecordPushAsync(RequestOrigin origin, string repository, string reference, string digest, CancellationToken cancellationToken)
    {
        await store.SetVisibilityIfUnsetAsync(repository, options.DefaultVisibilityFor(repository), cancellationToken);
        await audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.Push, $"{repository}:{reference}", Detail: digest), cancellationToken);
    }

    public Task RecordDeleteAsync(RequestOrigin origin, string target, CancellationToken cancellationToken) =>
        audit.AppendAsync(new AuditEntry(origin.Actor, origin.ClientAddress, AuditActions.Delete, target), cancellationToken);

    private async Task<UserAccount?> ManagingUserAsync(RequestOrigin origin, CancellationToken cancellationToken) =>
        origin.Actor is { } name && origin.Caller.CanManageAccount() ? await store.FindUserAsync(name, cancellationToken) : null;

    private static AccountError NotManaging(RequestOrigin origin) => origin.Actor is null
        ? new AccountError(AccountErrorKind.Unauthorized, "Log in first.")
        : AccountError.Forbidden("This needs the password or a personal access token with the 'admin' scope.");
}
