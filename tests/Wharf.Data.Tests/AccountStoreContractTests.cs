using Wharf.Core.Accounts;

namespace Wharf.Data.Tests;

/// <summary>The behaviour every <see cref="IAccountStore"/> and <see cref="IAuditLog"/> provider must have.</summary>
public abstract class AccountStoreContractTests : StoreContractTests
{
    private IAccountStore Store => Database.Accounts;

    private async Task<UserAccount> UserAsync(string name, string? email = null, string hash = "hash", bool admin = false)
    {
        var (outcome, user) = await Store.CreateUserAsync(name, email, hash, admin, Ct);
        Assert.Equal(NameClaimOutcome.Created, outcome);
        return user!;
    }

    private async Task<Organization> OrganizationAsync(string name, long ownerId)
    {
        var (outcome, organization) = await Store.CreateOrganizationAsync(name, ownerId, false, Ct);
        Assert.Equal(NameClaimOutcome.Created, outcome);
        return organization!;
    }

    private NewRefreshToken Refresh(string hash, UserAccount user, long? tokenId = null, TokenScopes scopes = TokenScopes.Pull, int days = 90) =>
        new(hash, user.Id, tokenId, scopes, user.CredentialVersion, "docker", "127.0.0.1",
            DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddDays(days).ToUnixTimeMilliseconds()));

    [Fact]
    public async Task The_first_user_is_the_administrator_and_names_are_unique_across_users_and_organizations()
    {
        var first = await UserAsync("alice", "alice@example.test", "hash-a");
        var second = await UserAsync("bob", null, "hash-b");
        Assert.True(first.IsAdmin);
        Assert.False(second.IsAdmin);
        Assert.Equal((NameClaimOutcome.Taken, (UserAccount?)null), await Store.CreateUserAsync("alice", null, "other", false, Ct));
        await OrganizationAsync("acme", first.Id);
        Assert.Equal(NameClaimOutcome.Taken, (await Store.CreateUserAsync("acme", null, "hash", false, Ct)).Outcome);
        Assert.Equal(NameClaimOutcome.Taken, (await Store.CreateOrganizationAsync("bob", first.Id, true, Ct)).Outcome);
        Assert.True((await UserAsync("carol", null, "hash-c", admin: true)).IsAdmin);
        Assert.Equal(3, await Store.CountUsersAsync(Ct));

        var found = await Store.FindUserAsync("alice", Ct);
        Assert.Equal(first, found);
        Assert.Equal(first, await Store.FindUserByIdAsync(first.Id, Ct));
        Assert.Null(await Store.FindUserAsync("Alice", Ct));
        Assert.Null(await Store.FindUserByIdAsync(first.Id + 1000, Ct));
    }

    [Fact]
    public async Task A_namespace_that_already_holds_repositories_is_not_claimed_by_a_sign_up_or_an_organization_unless_an_administrator_adopts_it()
    {
        var admin = await UserAsync("admin");
        await Database.Registry.EnsureRepositoryAsync("squat/app", Ct);
        Assert.Equal(NameClaimOutcome.NamespaceInUse, (await Store.CreateUserAsync("squat", null, "hash", false, Ct)).Outcome);
        Assert.Equal(NameClaimOutcome.NamespaceInUse, (await Store.CreateOrganizationAsync("squat", admin.Id, false, Ct)).Outcome);
        Assert.Equal(NameClaimOutcome.Created, (await Store.CreateOrganizationAsync("squat", admin.Id, true, Ct)).Outcome);
    }

    [Fact]
    public async Task Concurrent_sign_ups_make_exactly_one_administrator()
    {
        var users = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Store.CreateUserAsync($"user{i}", null, "hash", false, Ct))));
        Assert.Single(users, u => u.User!.IsAdmin);
        Assert.Equal(8, await Store.CountUsersAsync(Ct));
    }

    [Fact]
    public async Task Users_are_listed_in_name_order_a_page_at_a_time()
    {
        foreach (var name in new[] { "carol", "alice", "dave", "bob" }) await UserAsync(name);
        Assert.Equal(["alice", "bob"], (await Store.ListUsersAsync(null, 2, Ct)).Select(u => u.Name));
        Assert.Equal(["carol", "dave"], (await Store.ListUsersAsync("bob", 2, Ct)).Select(u => u.Name));
        Assert.Empty(await Store.ListUsersAsync("dave", 2, Ct));
    }

    [Fact]
    public async Task Password_hashes_change()
    {
        var user = await UserAsync("alice", null, "old");
        Assert.True(await Store.SetPasswordHashAsync(user.Id, "new", Ct));
        Assert.Equal("new", (await Store.FindUserAsync("alice", Ct))!.PasswordHash);
        Assert.Equal(user.CredentialVersion, (await Store.FindUserAsync("alice", Ct))!.CredentialVersion);
        Assert.False(await Store.SetPasswordHashAsync(user.Id + 1000, "new", Ct));
    }

    [Fact]
    public async Task A_password_change_raises_the_credential_version_and_revokes_every_session_of_the_user()
    {
        var alice = await UserAsync("alice");
        var bob = await UserAsync("bob");
        await Store.StoreRefreshTokenAsync(Refresh("r1", alice), 10, Ct);
        await Store.StoreRefreshTokenAsync(Refresh("r2", bob), 10, Ct);
        Assert.Equal(alice.CredentialVersion + 1, await Store.ChangePasswordAsync(alice.Id, "new", Ct));
        var changed = (await Store.FindUserAsync("alice", Ct))!;
        Assert.Equal(("new", alice.CredentialVersion + 1), (changed.PasswordHash, changed.CredentialVersion));
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.NotNull(await Store.FindRefreshTokenAsync("r2", Ct));
        Assert.Null(await Store.ChangePasswordAsync(alice.Id + 1000, "x", Ct));
    }

    [Fact]
    public async Task Making_a_user_an_administrator_keeps_their_sessions_and_taking_it_away_ends_them()
    {
        await UserAsync("first"); // the first user of an instance is an administrator: alice is not
        var alice = await UserAsync("alice");
        Assert.False(alice.IsAdmin);
        await Store.StoreRefreshTokenAsync(Refresh("r1", alice), 10, Ct);
        Assert.True(await Store.SetAdminAsync(alice.Id, true, Ct));
        var promoted = (await Store.FindUserAsync("alice", Ct))!;
        Assert.True(promoted.IsAdmin);
        Assert.Equal(alice.CredentialVersion, promoted.CredentialVersion);
        Assert.NotNull(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.True(await Store.SetAdminAsync(alice.Id, true, Ct)); // already: nothing changes
        Assert.Equal(alice.CredentialVersion, (await Store.FindUserAsync("alice", Ct))!.CredentialVersion);

        Assert.True(await Store.SetAdminAsync(alice.Id, false, Ct));
        var demoted = (await Store.FindUserAsync("alice", Ct))!;
        Assert.False(demoted.IsAdmin);
        Assert.True(demoted.CredentialVersion > alice.CredentialVersion);
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.True(await Store.SetAdminAsync(alice.Id, false, Ct)); // already not: the version stays
        Assert.Equal(demoted.CredentialVersion, (await Store.FindUserAsync("alice", Ct))!.CredentialVersion);
        Assert.False(await Store.SetAdminAsync(alice.Id + 1000, true, Ct));
        Assert.False(await Store.SetAdminAsync(alice.Id + 1000, false, Ct));
    }

    [Fact]
    public async Task Disabling_a_user_ends_their_sessions_and_enabling_keeps_them_ended()
    {
        var alice = await UserAsync("alice");
        await Store.StoreRefreshTokenAsync(Refresh("r1", alice), 10, Ct);
        Assert.True(await Store.SetDisabledAsync(alice.Id, true, Ct));
        var disabled = (await Store.FindUserAsync("alice", Ct))!;
        Assert.NotNull(disabled.DisabledAt);
        Assert.True(disabled.CredentialVersion > alice.CredentialVersion);
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.True(await Store.SetDisabledAsync(alice.Id, false, Ct));
        Assert.Null((await Store.FindUserAsync("alice", Ct))!.DisabledAt);
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.False(await Store.SetDisabledAsync(alice.Id + 1000, true, Ct));

        var unlocked = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.True(await Store.SetLoginsUnlockedAsync(alice.Id, unlocked, Ct));
        Assert.Equal(unlocked, (await Store.FindUserAsync("alice", Ct))!.LoginsUnlockedAt);
    }

    [Fact]
    public async Task Deleting_a_user_keeps_the_name_claimed_and_says_what_was_left()
    {
        var admin = await UserAsync("admin");
        var alice = await UserAsync("alice");
        await Store.CreateAccessTokenAsync(alice.Id, "ci", "wharf_ab", "hash-ci", TokenScopes.Pull, null, Ct);
        await Store.StoreRefreshTokenAsync(Refresh("r1", alice), 10, Ct);
        var solo = await OrganizationAsync("solo", alice.Id);
        var shared = await OrganizationAsync("shared", alice.Id);
        await Store.SetMemberAsync(shared.Id, admin.Id, OrganizationRole.Owner, Ct);
        await Database.Registry.EnsureRepositoryAsync("alice/app", Ct);

        var deletion = (await Store.DeleteUserAsync(alice.Id, Ct))!;
        Assert.Equal(("alice", 1L), (deletion.Username, deletion.RepositoriesKept));
        Assert.Equal(["solo"], deletion.OrganizationsWithoutOwner);
        Assert.Null(await Store.FindUserAsync("alice", Ct));
        Assert.Null(await Store.FindAccessTokenAsync("hash-ci", Ct));
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.Equal(NameClaimOutcome.Taken, (await Store.CreateUserAsync("alice", null, "hash", false, Ct)).Outcome);
        Assert.Equal(NameClaimOutcome.Taken, (await Store.CreateOrganizationAsync("alice", admin.Id, false, Ct)).Outcome);
        Assert.Equal(NameClaimOutcome.Created, (await Store.CreateOrganizationAsync("alice", admin.Id, true, Ct)).Outcome);
        Assert.Null(await Store.DeleteUserAsync(alice.Id, Ct));
        _ = solo;
    }

    [Fact]
    public async Task Access_tokens_are_found_by_hash_listed_touched_and_revoked()
    {
        var alice = await UserAsync("alice");
        var bob = await UserAsync("bob");
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeMilliseconds());
        var ci = await Store.CreateAccessTokenAsync(alice.Id, "ci", "wharf_ab", "hash-ci", TokenScopes.Pull | TokenScopes.Push, expires, Ct);
        var laptop = await Store.CreateAccessTokenAsync(alice.Id, "laptop", "wharf_cd", "hash-laptop", TokenScopes.Admin, null, Ct);
        await Store.CreateAccessTokenAsync(bob.Id, "bobs", "wharf_ef", "hash-bob", TokenScopes.Pull, null, Ct);

        var owner = await Store.FindAccessTokenAsync("hash-ci", Ct);
        Assert.Equal(ci, owner!.Token);
        Assert.Equal(alice, owner.User);
        Assert.Equal(TokenScopes.Pull | TokenScopes.Push, owner.Token.Scopes);
        Assert.Equal(expires, owner.Token.ExpiresAt);
        Assert.Null(await Store.FindAccessTokenAsync("hash-unknown", Ct));

        Assert.Equal(["ci", "laptop"], (await Store.ListAccessTokensAsync(alice.Id, Ct)).Select(t => t.Name));
        var used = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await Store.TouchAccessTokenAsync(laptop.Id, used, Ct);
        Assert.Equal(used, (await Store.FindAccessTokenAsync("hash-laptop", Ct))!.Token.LastUsedAt);

        Assert.False(await Store.RevokeAccessTokenAsync(bob.Id, ci.Id, Ct));
        Assert.True(await Store.RevokeAccessTokenAsync(alice.Id, ci.Id, Ct));
        Assert.False(await Store.RevokeAccessTokenAsync(alice.Id, ci.Id, Ct));
        Assert.Null(await Store.FindAccessTokenAsync("hash-ci", Ct));
        Assert.Equal(["laptop"], (await Store.ListAccessTokensAsync(alice.Id, Ct)).Select(t => t.Name));
    }

    [Fact]
    public async Task Sessions_carry_their_credential_and_scopes_and_end_with_the_token_that_made_them()
    {
        var alice = await UserAsync("alice");
        var bob = await UserAsync("bob");
        var ci = await Store.CreateAccessTokenAsync(alice.Id, "ci", "wharf_ab", "hash-ci", TokenScopes.Pull, null, Ct);
        var withToken = await Store.StoreRefreshTokenAsync(Refresh("r1", alice, ci.Id, TokenScopes.Pull), 10, Ct);
        var withPassword = await Store.StoreRefreshTokenAsync(Refresh("r2", alice, null, TokenScopes.Pull | TokenScopes.Push | TokenScopes.Delete | TokenScopes.Admin), 10, Ct);
        await Store.StoreRefreshTokenAsync(Refresh("r3", bob), 10, Ct);
        Assert.Equal(("ci", TokenScopes.Pull, "docker", "127.0.0.1"), (withToken.AccessTokenName, withToken.Scopes, withToken.ClientId, withToken.ClientAddress));

        var found = (await Store.FindRefreshTokenAsync("r1", Ct))!;
        Assert.Equal(withToken, found.Token);
        Assert.Equal(alice, found.User);
        Assert.True(found.CredentialAlive);
        Assert.Equal([withToken.Id, withPassword.Id], (await Store.ListRefreshTokensAsync(alice.Id, Ct)).Select(t => t.Id));

        var used = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await Store.TouchRefreshTokenAsync(withPassword.Id, used, Ct);
        Assert.Equal(used, (await Store.FindRefreshTokenAsync("r2", Ct))!.Token.LastUsedAt);

        Assert.True(await Store.RevokeAccessTokenAsync(alice.Id, ci.Id, Ct));
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.Equal([withPassword.Id], (await Store.ListRefreshTokensAsync(alice.Id, Ct)).Select(t => t.Id));

        Assert.False(await Store.RevokeRefreshTokenAsync(bob.Id, withPassword.Id, Ct));
        Assert.True(await Store.RevokeRefreshTokenAsync(alice.Id, withPassword.Id, Ct));
        Assert.Null(await Store.FindRefreshTokenAsync("r2", Ct));
        Assert.NotNull(await Store.FindRefreshTokenAsync("r3", Ct));
    }

    [Fact]
    public async Task A_user_keeps_at_most_the_cap_of_sessions_dropping_the_least_recently_used()
    {
        var alice = await UserAsync("alice");
        var sessions = new List<RefreshTokenInfo>();
        for (var i = 0; i < 3; i++) sessions.Add(await Store.StoreRefreshTokenAsync(Refresh($"r{i}", alice), 3, Ct));
        await Store.TouchRefreshTokenAsync(sessions[0].Id, DateTimeOffset.UtcNow.AddMinutes(1), Ct);
        await Store.StoreRefreshTokenAsync(Refresh("r3", alice), 3, Ct);
        Assert.NotNull(await Store.FindRefreshTokenAsync("r0", Ct));
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.Equal(3, (await Store.ListRefreshTokensAsync(alice.Id, Ct)).Count);
    }

    [Fact]
    public async Task Organizations_have_members_with_roles()
    {
        var alice = await UserAsync("alice");
        var bob = await UserAsync("bob");
        var acme = await OrganizationAsync("acme", alice.Id);
        var tools = await OrganizationAsync("tools", bob.Id);
        Assert.Equal(acme, await Store.FindOrganizationAsync("acme", Ct));
        Assert.Null(await Store.FindOrganizationAsync("alice", Ct));

        await Store.SetMemberAsync(acme.Id, bob.Id, OrganizationRole.Reader, Ct);
        await Store.SetMemberAsync(acme.Id, bob.Id, OrganizationRole.Maintainer, Ct);
        Assert.Equal([("alice", OrganizationRole.Owner), ("bob", OrganizationRole.Maintainer)],
            (await Store.ListMembersAsync(acme.Id, Ct)).Select(m => (m.Username, m.Role)));
        var memberships = await Store.GetMembershipsAsync("bob", Ct);
        Assert.Equal(OrganizationRole.Maintainer, memberships["acme"]);
        Assert.Equal(OrganizationRole.Owner, memberships["tools"]);
        Assert.Equal(2, memberships.Count);

        Assert.True(await Store.RemoveMemberAsync(acme.Id, bob.Id, Ct));
        Assert.False(await Store.RemoveMemberAsync(acme.Id, bob.Id, Ct));
        Assert.Equal(["alice"], (await Store.ListMembersAsync(acme.Id, Ct)).Select(m => m.Username));
        Assert.Empty(await Store.GetMembershipsAsync("nobody", Ct));
        _ = tools;
    }

    [Fact]
    public async Task Visibility_is_unset_until_set_and_set_if_unset_only_once()
    {
        Assert.Equal((false, (RepositoryVisibility?)null), await Store.GetVisibilityAsync("alice/app", Ct));
        Assert.False(await Store.SetVisibilityAsync("alice/app", RepositoryVisibility.Public, null, Ct));
        await Database.Registry.EnsureRepositoryAsync("alice/app", Ct);
        Assert.Equal((true, (RepositoryVisibility?)null), await Store.GetVisibilityAsync("alice/app", Ct));

        await Store.SetVisibilityIfUnsetAsync("alice/app", RepositoryVisibility.Private, Ct);
        await Store.SetVisibilityIfUnsetAsync("alice/app", RepositoryVisibility.Public, Ct);
        Assert.Equal((true, (RepositoryVisibility?)RepositoryVisibility.Private), await Store.GetVisibilityAsync("alice/app", Ct));
        var before = (await Database.Repositories.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!.UpdatedAt;
        Assert.True(await Store.SetVisibilityAsync("alice/app", RepositoryVisibility.Public, null, Ct));
        Assert.Equal((true, (RepositoryVisibility?)RepositoryVisibility.Public), await Store.GetVisibilityAsync("alice/app", Ct));
        // A change of visibility moves updated_at; setting the same again does not.
        var changed = (await Database.Repositories.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!.UpdatedAt;
        Assert.NotNull(changed);
        Assert.NotEqual(before, changed);
        Assert.True(await Store.SetVisibilityAsync("alice/app", RepositoryVisibility.Public, null, Ct));
        Assert.Equal(changed, (await Database.Repositories.GetAsync("alice/app", RepositoryVisibility.Private, Ct))!.UpdatedAt);
    }

    [Fact]
    public async Task The_audit_log_lists_newest_first_in_pages()
    {
        for (var i = 0; i < 5; i++)
        {
            await Database.Audit.AppendAsync(new AuditEntry($"user{i}", "127.0.0.1", AuditActions.Login, $"target{i}", i % 2 == 0, i == 3 ? "detail" : null), Ct);
        }
        var first = await Database.Audit.ListAsync(null, 3, Ct);
        Assert.Equal(["user4", "user3", "user2"], first.Select(e => e.Actor));
        Assert.Equal("detail", first[1].Detail);
        Assert.False(first[1].Success);
        Assert.True(first[0].Success);
        Assert.Equal("127.0.0.1", first[0].ClientAddress);
        Assert.InRange(first[0].At, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        var rest = await Database.Audit.ListAsync(first[^1].Id, 10, Ct);
        Assert.Equal(["user1", "user0"], rest.Select(e => e.Actor));
    }

    [Fact]
    public async Task Text_with_control_characters_is_stored_not_refused()
    {
        // A NUL in an email or audit detail (user input) must not fail a write on any provider.
        await UserAsync("alice", "a\0b@example.test");
        await Database.Audit.AppendAsync(new AuditEntry("alice", null, AuditActions.Login, "x\0y", true, "bad\0detail"), Ct);
        var logged = Assert.Single(await Database.Audit.ListAsync(null, 10, Ct));
        Assert.StartsWith("bad", logged.Detail);
        Assert.EndsWith("detail", logged.Detail);
    }
}

public sealed class SqliteAccountStoreTests : AccountStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlAccountStoreTests : AccountStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
