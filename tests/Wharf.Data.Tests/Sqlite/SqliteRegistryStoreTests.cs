using Wharf.Core.Registry;
using Wharf.Data.Sqlite;

namespace Wharf.Data.Tests.Sqlite;

public sealed class SqliteRegistryStoreTests : RegistryStoreContractTests
{
    protected override async Task<IRegistryStoreTestProvider> CreateProviderAsync()
    {
        var database = new SqliteTestDatabase();
        var migrator = new SqliteMigrator(database.Connections);
        await migrator.MigrateAsync(CancellationToken.None);
        return new SqliteProvider(database, new SqliteRegistryStore(database.Connections), migrator);
    }

    private sealed class SqliteProvider(SqliteTestDatabase database, IRegistryStore store, IMetadataMigrator migrator) : IRegistryStoreTestProvider
    {
        public IRegistryStore Store { get; } = store;

        public IMetadataMigrator Migrator { get; } = migrator;

        public ValueTask DisposeAsync() => database.DisposeAsync();
    }
}
