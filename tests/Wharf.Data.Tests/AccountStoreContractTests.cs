using Wharf.Core.Accounts;

namespace Wharf.Data.Tests;

/// <summary>The behaviour every <see cref="IAccountStore"/> and <see cref="IAuditLog"/> provider must have.</summary>
public abstract class AccountStoreContractTests : StoreContractTests
{
    private IAccountStore Store => Database.Accounts;

    [Fact]
    public async Task The_first_user_is_the_administrator_and_names_are_unique_across_users_and_organizations()
    {
        var first = await Store.CreateUserAsync("alice", "alice@example.test", "hash-a", false, Ct);
        var second = await Store.CreateUserAsync("bob", null, "hash-b", false, Ct);
        Assert.True(first!.IsAdmin);
        Assert.False(second!.IsAdmin);
        Assert.Null(await Store.CreateUserAsync("alice", null, "other", false, Ct));
        Assert.NotNull(await Store.CreateOrganizationAsync("acme", first.Id, Ct));
        Assert.Null(await Store.CreateUserAsync("acme", null, "hash", false, Ct));
        Assert.Null(await Store.CreateOrganizationAsync("bob", first.Id, Ct));
        Assert.True((await Store.CreateUserAsync("carol", null, "hash-c", true, Ct))!.IsAdmin);
        Assert.Equal(3, await Store.CountUsersAsync(Ct));

        var found = await Store.FindUserAsync("alice", Ct);
        Assert.Equal(first, found);
        Assert.Equal(first, await Store.FindUserByIdAsync(first.Id, Ct));
        Assert.Null(await Store.FindUserAsync("Alice", Ct));
        Assert.Null(await Store.FindUserByIdAsync(first.Id + 1000, Ct));
    }

    [Fact]
    public async Task Concurrent_sign_ups_make_exactly_one_administrator()
    {
        var users = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Store.CreateUserAsync($"user{i}", null, "hash", false, Ct))));
        Assert.Single(users, u => u!.IsAdmin);
        Assert.Equal(8, await Store.CountUsersAsync(Ct));
    }

    [Fact]
    public async Task Password_hashes_change()
    {
        var user = (await Store.CreateUserAsync("alice", null, "old", false, Ct))!;
        Assert.True(await Store.SetPasswordHashAsync(user.Id, "new", Ct));
        Assert.Equal("new", (await Store.FindUserAsync("alice", Ct))!.PasswordHash);
        Assert.False(await Store.SetPasswordHashAsync(user.Id + 1000, "new", Ct));
    }

    [Fact]
    public async Task Access_tokens_are_found_by_hash_listed_touched_and_revoked()
    {
        var alice = (await Store.CreateUserAsync("alice", null, "hash", false, Ct))!;
        var bob = (await Store.CreateUserAsync("bob", null, "hash", false, Ct))!;
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
    public async Task Refresh_tokens_are_found_until_revoked_with_every_other_of_the_user()
    {
        var alice = (await Store.CreateUserAsync("alice", null, "hash", false, Ct))!;
        var bob = (await Store.CreateUserAsync("bob", null, "hash", false, Ct))!;
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddDays(90).ToUnixTimeMilliseconds());
        await Store.StoreRefreshTokenAsync("r1", alice.Id, "docker", expires, Ct);
        await Store.StoreRefreshTokenAsync("r2", alice.Id, "wharf", expires, Ct);
        await Store.StoreRefreshTokenAsync("r3", bob.Id, "docker", expires, Ct);
        Assert.Equal(new RefreshTokenInfo(alice.Id, "docker", expires), await Store.FindRefreshTokenAsync("r1", Ct));

        await Store.RevokeRefreshTokensAsync(alice.Id, Ct);
        Assert.Null(await Store.FindRefreshTokenAsync("r1", Ct));
        Assert.Null(await Store.FindRefreshTokenAsync("r2", Ct));
        Assert.NotNull(await Store.FindRefreshTokenAsync("r3", Ct));
    }

    [Fact]
    public async Task Organizations_have_members_with_roles()
    {
        var alice = (await Store.CreateUserAsync("alice", null, "hash", false, Ct))!;
        var bob = (await Store.CreateUserAsync("bob", null, "hash", false, Ct))!;
        var acme = (await Store.CreateOrganizationAsync("acme", alice.Id, Ct))!;
        var tools = (await Store.CreateOrganizationAsync("tools", bob.Id, Ct))!;
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
        var user = await Store.CreateUserAsync("alice", "a\0b@example.test", "hash", false, Ct);
        Assert.NotNull(user);
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
