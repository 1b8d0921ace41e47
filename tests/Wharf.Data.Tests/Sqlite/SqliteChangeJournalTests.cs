using Dapper;
using Microsoft.Data.Sqlite;
using Wharf.Core.Accounts;
using Wharf.Core.Events;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Data.Sqlite;
using static Wharf.Data.Tests.TestManifests;

namespace Wharf.Data.Tests.Sqlite;

/// <summary>
/// The outbox seam: a change journal sees each registry change inside the transaction that makes it, so its rows exist
/// exactly for the changes that committed (none for a write refused or rolled back, and a failing journal undoes the change).
/// </summary>
public sealed class SqliteChangeJournalTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly ChangeActor Alice = new("alice", "127.0.0.1");
    private readonly OutboxTable _outbox = new();
    private readonly SqliteTestDatabase _database;
    private readonly SqliteRegistryStore _registry;
    private readonly SqliteRepositoryStore _repositories;
    private readonly SqliteAccountStore _accounts;

    public SqliteChangeJournalTests()
    {
        _database = new SqliteTestDatabase([_outbox]);
        _registry = new SqliteRegistryStore(_database.Connections);
        _repositories = new SqliteRepositoryStore(_database.Connections);
        _accounts = new SqliteAccountStore(_database.Connections);
    }

    public async Task InitializeAsync()
    {
        await new SqliteMigrator(_database.Connections).MigrateAsync(Ct);
        await using var connection = await _database.Connections.OpenAsync(Ct);
        await connection.ExecuteAsync("CREATE TABLE test_outbox (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, actor TEXT)");
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Each_committed_change_has_its_row_written_in_its_own_transaction()
    {
        var manifest = await PushAsync("alice/app", "v1");
        Assert.True((await _registry.DeleteTagAsync("alice/app", "v1", new TagDeleted("alice/app", "v1", Alice, DateTimeOffset.UnixEpoch), Ct)).IsDeleted);
        Assert.True((await _registry.DeleteManifestAsync("alice/app", manifest.Digest, new ManifestDeleted("alice/app", manifest.Digest, Alice, DateTimeOffset.UnixEpoch), Ct)).IsDeleted);
        Assert.Equal(CreateRepositoryOutcome.Created, await _repositories.CreateAsync("alice/tool", RepositoryVisibility.Private, null, null,
            new RepositoryCreated("alice/tool", RepositoryVisibility.Private, Alice, DateTimeOffset.UnixEpoch), Ct));
        Assert.True(await _repositories.UpdateAsync("alice/tool", new RepositoryUpdate("d", null, null),
            new RepositoryUpdated("alice/tool", true, false, null, Alice, DateTimeOffset.UnixEpoch), Ct));
        Assert.True(await _accounts.SetVisibilityAsync("alice/tool", RepositoryVisibility.Public,
            new RepositoryVisibilityChanged("alice/tool", RepositoryVisibility.Public, Alice, DateTimeOffset.UnixEpoch), Ct));
        Assert.True((await _repositories.DeleteAsync("alice/tool", new RepositoryDeleted("alice/tool", Alice, DateTimeOffset.UnixEpoch), Ct)).IsDeleted);

        Assert.Equal(
            ["ManifestPushed alice/app:v1", "TagDeleted alice/app:v1", $"ManifestDeleted alice/app@{manifest.Digest}", "RepositoryCreated alice/tool",
             "RepositoryUpdated alice/tool", "RepositoryVisibilityChanged alice/tool", "RepositoryDeleted alice/tool"],
            await RowsAsync());
        Assert.Equal(7, _outbox.SawOpenTransaction);
    }

    [Fact]
    public async Task A_write_that_does_not_happen_leaves_no_row()
    {
        // A manifest whose layer is not in the repository is refused as a whole.
        var orphan = Image(BlobDigest("c"), [BlobDigest("missing")], salt: "orphan");
        var refused = await _registry.PutManifestAsync("alice/app", orphan, ["v1"], Pushed("alice/app", orphan, "v1"), Ct);
        Assert.Equal(PutManifestStatus.MissingReference, refused.Status);
        Assert.False((await _registry.DeleteTagAsync("alice/app", "nope", new TagDeleted("alice/app", "nope", Alice, DateTimeOffset.UnixEpoch), Ct)).IsDeleted);
        Assert.False((await _repositories.DeleteAsync("alice/none", new RepositoryDeleted("alice/none", Alice, DateTimeOffset.UnixEpoch), Ct)).IsDeleted);
        Assert.Empty(await RowsAsync());
    }

    [Fact]
    public async Task A_journal_that_fails_rolls_the_change_back()
    {
        _outbox.FailNext = true;
        await Assert.ThrowsAsync<InvalidOperationException>(() => PushAsync("alice/app", "v1"));
        Assert.Null(await _registry.ResolveTagAsync("alice/app", "v1", Ct));
        Assert.Empty(await RowsAsync());
    }

    private async Task<NewManifest> PushAsync(string repository, string tag)
    {
        await _registry.LinkBlobAsync(repository, BlobDigest("c"), 7, Ct);
        await _registry.LinkBlobAsync(repository, BlobDigest("l"), 100, Ct);
        var manifest = Image(BlobDigest("c"), [BlobDigest("l")], salt: tag);
        var result = await _registry.PutManifestAsync(repository, manifest, [tag], Pushed(repository, manifest, tag), Ct);
        Assert.Equal(PutManifestStatus.Stored, result.Status);
        return manifest;
    }

    private static ManifestPushed Pushed(string repository, NewManifest manifest, string tag) =>
        new(repository, manifest.Digest, manifest.Manifest, tag, [tag], Alice, DateTimeOffset.UnixEpoch);

    private async Task<List<string>> RowsAsync()
    {
        await using var connection = await _database.Connections.OpenAsync(Ct);
        return [.. await connection.QueryAsync<string>("SELECT kind || ' ' || target FROM test_outbox ORDER BY id")];
    }

    /// <summary>An outbox as a webhook sender would keep it: one row per change, in the change's transaction.</summary>
    private sealed class OutboxTable : ISqliteChangeJournal
    {
        public bool FailNext { get; set; }

        public int SawOpenTransaction { get; private set; }

        public async Task AppendAsync(SqliteConnection connection, SqliteTransaction transaction, RegistryChange change, CancellationToken cancellationToken)
        {
            if (transaction.Connection == connection) SawOpenTransaction++;
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO test_outbox (kind, target, actor) VALUES (@kind, @target, @actor)",
                new { kind = change.Kind.ToString(), target = change.Target, actor = change.Actor.Name }, transaction, cancellationToken: cancellationToken));
            if (FailNext)
            {
                FailNext = false;
                throw new InvalidOperationException("the outbox is unavailable");
            }
        }
    }
}
