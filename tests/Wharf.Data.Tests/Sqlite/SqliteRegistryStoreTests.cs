namespace Wharf.Data.Tests.Sqlite;

public sealed class SqliteRegistryStoreTests : RegistryStoreContractTests
{
    protected override async Task<IRegistryStoreTestProvider> CreateProviderAsync() => await MetadataTestDatabase.CreateAsync(MetadataProvider.Sqlite);
}
