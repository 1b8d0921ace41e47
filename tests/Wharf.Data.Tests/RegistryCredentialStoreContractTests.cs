namespace Wharf.Data.Tests;

/// <summary>The behaviour every <see cref="Wharf.Core.Builds.IRegistryCredentialStore"/> provider must have.</summary>
public abstract class RegistryCredentialStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task One_credential_per_owner_and_host_replaced_in_place_and_kept_apart_per_owner()
    {
        var store = Database.Credentials;
        var first = await store.UpsertAsync("alice", "registry.test:5000", "ci", "cipher-1", Ct);
        var again = await store.UpsertAsync("alice", "registry.test:5000", "ci2", "cipher-2", Ct);
        Assert.Equal(first.Id, again.Id);
        await store.UpsertAsync("alice", "other.test", "me", "cipher-3", Ct);
        var anonymous = await store.UpsertAsync(null, "registry.test:5000", "anon", "cipher-4", Ct);

        Assert.Equal([("other.test", "me"), ("registry.test:5000", "ci2")], (await store.ListAsync("alice", Ct)).Select(c => (c.Host, c.Username)));
        Assert.Equal(["anon"], (await store.ListAsync(null, Ct)).Select(c => c.Username));
        Assert.Empty(await store.ListAsync("bob", Ct));

        var byHost = (await store.FindAsync("alice", null, "registry.test:5000", Ct))!.Value;
        Assert.Equal(("ci2", "cipher-2", "alice"), (byHost.Credential.Username, byHost.ProtectedSecret, byHost.Credential.Owner));
        var byId = (await store.FindAsync("alice", first.Id, "ignored", Ct))!.Value;
        Assert.Equal(first.Id, byId.Credential.Id);
        Assert.Null(await store.FindAsync("bob", first.Id, "registry.test:5000", Ct));
        Assert.Equal("cipher-4", (await store.FindAsync(null, anonymous.Id, "", Ct))!.Value.ProtectedSecret);

        Assert.False(await store.DeleteAsync("bob", first.Id, Ct));
        Assert.True(await store.DeleteAsync("alice", first.Id, Ct));
        Assert.False(await store.DeleteAsync("alice", first.Id, Ct));
        Assert.Null(await store.FindAsync("alice", null, "registry.test:5000", Ct));
    }
}

public sealed class SqliteRegistryCredentialStoreTests : RegistryCredentialStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlRegistryCredentialStoreTests : RegistryCredentialStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
