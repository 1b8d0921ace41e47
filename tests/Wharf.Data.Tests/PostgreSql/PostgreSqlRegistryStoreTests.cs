namespace Wharf.Data.Tests.PostgreSql;

public sealed class PostgreSqlRegistryStoreTests : RegistryStoreContractTests
{
    protected override async Task<IRegistryStoreTestProvider> CreateProviderAsync() => await MetadataTestDatabase.CreateAsync(MetadataProvider.PostgreSql);
}
