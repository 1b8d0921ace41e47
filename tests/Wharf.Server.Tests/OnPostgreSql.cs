using Wharf.Server.Tests.Accounts;
using Wharf.Server.Tests.Registry;
using Wharf.Server.Tests.Repositories;
using Wharf.Testing;

namespace Wharf.Server.Tests;

// The server's registry, accounts, repositories and search suites once more on PostgreSQL: together they reach every
// method of every store through real HTTP (the builds and queue stores run on PostgreSQL in Wharf.Builds.Tests).
// What only concerns the protocol or the blob store (names, limits, blob GETs, upload restarts) runs once, on SQLite.

public sealed class ManifestTestsOnPostgreSql : ManifestTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class ContentManagementTestsOnPostgreSql : ContentManagementTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class DiscoveryTestsOnPostgreSql : DiscoveryTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class ReferrersTestsOnPostgreSql : ReferrersTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class BlobUploadTestsOnPostgreSql : BlobUploadTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class RepositoriesApiTestsOnPostgreSql : RepositoriesApiTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class SearchTestsOnPostgreSql : SearchTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class BroadSearchTestsOnPostgreSql : BroadSearchTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class BrowseSearchTestsOnPostgreSql : BrowseSearchTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class SearchVisibilityTestsOnPostgreSql : SearchVisibilityTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class AccountsApiTestsOnPostgreSql : AccountsApiTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}

public sealed class TokenFlowTestsOnPostgreSql : TokenFlowTests
{
    protected override WharfTestProviders Providers => WharfTestProviders.PostgreSql;
}
