using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.Events;
using Wharf.Core.Gc;
using Wharf.Core.Registry;
using Wharf.Core.Repositories;
using Wharf.Core.Webhooks;
using Wharf.Data.PostgreSql;
using Wharf.Data.Sqlite;
using Wharf.Data.Tests.Sqlite;
using Wharf.Testing.Services;

namespace Wharf.Data.Tests;

/// <summary>The metadata providers every store contract suite runs against.</summary>
public enum MetadataProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>A fresh, migrated metadata database of one provider with every store on it; dropped on dispose.</summary>
public sealed class MetadataTestDatabase : IAsyncDisposable, IRegistryStoreTestProvider
{
    private readonly Func<TimeProvider, Stores> _open;
    private readonly Func<ValueTask> _drop;
    private Func<string, Task<long>> _countRows = _ => throw new InvalidOperationException();
    private readonly Stores _stores;
    private readonly List<Stores> _nodes = [];

    private MetadataTestDatabase(MetadataProvider provider, Func<TimeProvider, Stores> open, Func<ValueTask> drop, TimeProvider time)
    {
        Provider = provider;
        _open = open;
        _drop = drop;
        _stores = open(time);
    }

    public MetadataProvider Provider { get; }

    public IMetadataMigrator Migrator => _stores.Migrator;

    public IRegistryStore Registry => _stores.Registry;

    IRegistryStore IRegistryStoreTestProvider.Store => _stores.Registry;

    public IRepositoryStore Repositories => _stores.Repositories;

    public IAccountStore Accounts => _stores.Accounts;

    public IAuditLog Audit => _stores.Audit;

    public IBuildStore Builds => _stores.Builds;

    public IRegistryCredentialStore Credentials => _stores.Credentials;

    public IWebhookStore Webhooks => _stores.Webhooks;

    /// <summary>A change journal after the webhook outbox that throws when armed: the change's transaction must roll back whole.</summary>
    public JournalFault Fault => _stores.Fault;

    public IGcStore Gc => _stores.Gc;

    public Wharf.Core.Retention.IRetentionStore Retention => _stores.Retention;

    public Wharf.Core.Policies.IPolicyStore Policies => _stores.Policies;

    public Wharf.Core.Proxy.ICachedRepositoryStore CachedRepositories => _stores.CachedRepositories;

    public Wharf.Core.Storage.ISharedFileStore Files => _stores.Files;

    /// <summary>The PostgreSQL database's connection string (null on SQLite), for tests that hold locks as another session.</summary>
    public string? PostgreSqlConnectionString { get; private set; }

    /// <summary>How many rows <paramref name="table"/> holds (for checks that nothing is left behind).</summary>
    public Task<long> CountRowsAsync(string table) => _countRows(table);

    public Wharf.Core.Storage.IUploadSessionIndex UploadSessions => _stores.UploadSessions;

    /// <summary>The stores as another process on the same database would have them (own connections, own writer gate).</summary>
    public Stores OpenAnotherNode(TimeProvider? time = null)
    {
        var stores = _open(time ?? TimeProvider.System);
        _nodes.Add(stores);
        return stores;
    }

    public static async Task<MetadataTestDatabase> CreateAsync(MetadataProvider provider, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        MetadataTestDatabase database;
        if (provider == MetadataProvider.Sqlite)
        {
            var file = new SqliteTestDatabase();
            database = new MetadataTestDatabase(provider, t => Stores.Sqlite(file.DatabasePath, t), file.DisposeAsync, time);
            database._countRows = async table =>
            {
                await using var connection = await file.Connections.OpenAsync(CancellationToken.None);
                return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, $"SELECT count(*) FROM {table}");
            };
        }
        else
        {
            var server = await PostgresService.CreateDatabaseAsync(migrated: true);
            database = new MetadataTestDatabase(provider, t => Stores.PostgreSql(server.ConnectionString, t), server.DisposeAsync, time);
            database.PostgreSqlConnectionString = server.ConnectionString;
            database._countRows = async table =>
            {
                await using var connection = new Npgsql.NpgsqlConnection(server.ConnectionString);
                return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, $"SELECT count(*) FROM {table}");
            };
        }
        await database.Migrator.MigrateAsync(CancellationToken.None);
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        await _stores.DisposeAsync();
        await _drop();
    }

    /// <summary>One node's stores on the database, with the webhook outbox as their change and build journal.</summary>
    public sealed class Stores(
        IMetadataMigrator migrator, IRegistryStore registry, IRepositoryStore repositories, IAccountStore accounts, IAuditLog audit,
        IBuildStore builds, IRegistryCredentialStore credentials, Wharf.Core.Storage.ISharedFileStore files, IWebhookStore webhooks, JournalFault fault,
        IGcStore gc, IAsyncDisposable? resources) : IAsyncDisposable
    {
        public IMetadataMigrator Migrator { get; } = migrator;
        public IRegistryStore Registry { get; } = registry;
        public IRepositoryStore Repositories { get; } = repositories;
        public IAccountStore Accounts { get; } = accounts;
        public IAuditLog Audit { get; } = audit;
        public IBuildStore Builds { get; } = builds;
        public IRegistryCredentialStore Credentials { get; } = credentials;
        public IWebhookStore Webhooks { get; } = webhooks;
        public JournalFault Fault { get; } = fault;
        public IGcStore Gc { get; } = gc;
        public Wharf.Core.Storage.ISharedFileStore Files { get; } = files;
        public required Wharf.Core.Storage.IUploadSessionIndex UploadSessions { get; init; }
        public required Wharf.Core.Retention.IRetentionStore Retention { get; init; }
        public required Wharf.Core.Policies.IPolicyStore Policies { get; init; }

        public required Wharf.Core.Proxy.ICachedRepositoryStore CachedRepositories { get; init; }

        public ValueTask DisposeAsync() => resources?.DisposeAsync() ?? ValueTask.CompletedTask;

        /// <summary>Small limit of "broad" searches, so contract tests reach that path with a handful of repositories.</summary>
        public const int RelevanceRankedMatches = 6;

        /// <summary>The node the webhook envelopes name.</summary>
        public static readonly WebhookSource Source = new("node-a:5000", "instance-a", "http://127.0.0.1:5000");

        public static Stores Sqlite(string path, TimeProvider time)
        {
            var outbox = new SqliteWebhookOutbox(Source, time);
            var fault = new JournalFault();
            var connections = new SqliteConnectionFactory(SqliteOptions.ForFile(path), [outbox, fault]);
            var accounts = new SqliteAccountStore(connections, time);
            return new Stores(new SqliteMigrator(connections), new SqliteRegistryStore(connections, time),
                new SqliteRepositoryStore(connections, time, RelevanceRankedMatches), accounts, accounts,
                new SqliteBuildStore(connections, time, [outbox]), new SqliteRegistryCredentialStore(connections, time),
                new SqliteSharedFileStore(connections, time), new SqliteWebhookStore(connections, time), fault,
                new SqliteGcStore(connections), new Disposing(connections.Dispose))
            {
                UploadSessions = new SqliteUploadSessionIndex(connections),
                Retention = new SqliteRetentionStore(connections),
                Policies = new SqlitePolicyStore(connections, time),
                CachedRepositories = new SqliteCachedRepositoryStore(connections, time),
            };
        }

        public static Stores PostgreSql(string connectionString, TimeProvider time)
        {
            var outbox = new PostgreSqlWebhookOutbox(Source, time);
            var fault = new JournalFault();
            var connections = new PostgreSqlConnections(connectionString, [outbox, fault]);
            var accounts = new PostgreSqlAccountStore(connections, time);
            return new Stores(new PostgreSqlMigrator(connections, time), new PostgreSqlRegistryStore(connections, time),
                new PostgreSqlRepositoryStore(connections, time, RelevanceRankedMatches), accounts, accounts,
                new PostgreSqlBuildStore(connections, time, [outbox]), new PostgreSqlRegistryCredentialStore(connections, time),
                new PostgreSqlSharedFileStore(connections, time), new PostgreSqlWebhookStore(connections, time), fault,
                new PostgreSqlGcStore(connections), connections)
            {
                UploadSessions = new PostgreSqlUploadSessionIndex(connections),
                Retention = new PostgreSqlRetentionStore(connections),
                Policies = new PostgreSqlPolicyStore(connections, time),
                CachedRepositories = new PostgreSqlCachedRepositoryStore(connections, time),
            };
        }
    }

    /// <summary>A change journal that throws once when <see cref="FailNext"/> is set, after the journals before it wrote their rows.</summary>
    public sealed class JournalFault : ISqliteChangeJournal, IPostgreSqlChangeJournal
    {
        public bool FailNext { get; set; }

        public Task AppendAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, RegistryChange change, CancellationToken cancellationToken) => Fail();

        public Task AppendAsync(Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction transaction, RegistryChange change, CancellationToken cancellationToken) => Fail();

        private Task Fail()
        {
            if (!FailNext) return Task.CompletedTask;
            FailNext = false;
            throw new InvalidOperationException("the journal after the outbox failed");
        }
    }

    private sealed class Disposing(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A contract suite's per-test database of the provider the derived class names.</summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    protected static readonly CancellationToken Ct = CancellationToken.None;
    private MetadataTestDatabase? _database;

    protected abstract MetadataProvider Provider { get; }

    /// <summary>The clock the stores use (the system clock unless a suite overrides it).</summary>
    protected virtual TimeProvider Time => TimeProvider.System;

    protected MetadataTestDatabase Database => _database ?? throw new InvalidOperationException("Not initialized.");

    public async Task InitializeAsync() => _database = await MetadataTestDatabase.CreateAsync(Provider, Time);

    public async Task DisposeAsync()
    {
        if (_database is not null) await _database.DisposeAsync();
    }

    /// <summary>Links a config and a layer named after <paramref name="salt"/> and stores an image manifest of them with <paramref name="tags"/>.</summary>
    protected async Task<NewManifest> PushTaggedImageAsync(string repository, string salt, params string[] tags)
    {
        var config = TestManifests.BlobDigest(salt + "-config");
        var layer = TestManifests.BlobDigest(salt + "-layer");
        await Database.Registry.LinkBlobAsync(repository, config, 7, Ct);
        await Database.Registry.LinkBlobAsync(repository, layer, 100, Ct);
        var manifest = TestManifests.Image(config, [layer], salt: salt);
        Assert.Equal(PutManifestStatus.Stored, (await Database.Registry.PutManifestAsync(repository, manifest, tags, null, Ct)).Status);
        return manifest;
    }
}
