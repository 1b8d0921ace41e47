using Wharf.Testing.Services;

namespace Wharf.Server.Tests.Registry;

/// <summary>The server's arguments for blobs and upload sessions in the test gateway's bucket, under a prefix of this test's own.</summary>
internal static class OnS3
{
    public static async Task<string[]> ArgsAsync(params string[] more)
    {
        var rgw = await CephRgwService.GetAsync();
        return [.. rgw.ServerArgs(rgw.NewPrefix("server")), .. more];
    }
}

// The distribution API's blob, upload and manifest tests again, with blobs and sessions on the real Ceph RGW (S3) and
// metadata in SQLite: every IBlobStore and IUploadStore path the API takes.

public sealed class BlobUploadTestsOnS3 : BlobUploadTests
{
    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}

public sealed class BlobPullTestsOnS3 : BlobPullTests
{
    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}

public sealed class UploadRestartTestsOnS3 : UploadRestartTests
{
    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}

public sealed class ContentManagementTestsOnS3 : ContentManagementTests
{
    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}

public sealed class ManifestTestsOnS3 : ManifestTests
{
    protected override Task<string[]> ServerArgsAsync() => OnS3.ArgsAsync(ServerArgs);
}
