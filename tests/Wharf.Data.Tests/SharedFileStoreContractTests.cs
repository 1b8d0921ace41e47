using System.Security.Cryptography;
using Wharf.Core.Storage;

namespace Wharf.Data.Tests;

/// <summary>The behaviour every <see cref="ISharedFileStore"/> provider must have.</summary>
public abstract class SharedFileStoreContractTests : StoreContractTests
{
    private static byte[] Random(int length) => RandomNumberGenerator.GetBytes(length);

    [Fact]
    public async Task A_file_of_several_chunks_reads_back_whole_from_another_node()
    {
        var content = Random(ISharedFileStore.ChunkBytes * 2 + 12_345);
        Assert.Equal(content.Length, await Database.Files.WriteAsync("builds/a/context.archive", new MemoryStream(content), long.MaxValue, Ct));

        await using var other = Database.OpenAnotherNode();
        Assert.Equal(content, await other.Files.ReadAllBytesAsync("builds/a/context.archive", Ct));
        Assert.Null(await other.Files.OpenReadAsync("builds/a/missing", Ct));
    }

    [Fact]
    public async Task An_empty_file_is_a_file()
    {
        Assert.Equal(0, await Database.Files.WriteAsync("empty", new MemoryStream(), long.MaxValue, Ct));
        Assert.Empty((await Database.Files.ReadAllBytesAsync("empty", Ct))!);
    }

    [Fact]
    public async Task Content_over_the_limit_keeps_nothing_and_leaves_the_file_before_it()
    {
        await Database.Files.WriteAllBytesAsync("f", "old"u8.ToArray(), Ct);
        var stored = await Database.Files.WriteAsync("f", new MemoryStream(Random(ISharedFileStore.ChunkBytes + 10)), ISharedFileStore.ChunkBytes, Ct);

        Assert.Equal(-1, stored);
        Assert.Equal("old"u8.ToArray(), await Database.Files.ReadAllBytesAsync("f", Ct));
        Assert.Equal(1, await CountChunksAsync());
    }

    [Fact]
    public async Task Writing_again_replaces_the_file_and_drops_the_old_chunks()
    {
        await Database.Files.WriteAsync("f", new MemoryStream(Random(ISharedFileStore.ChunkBytes * 2)), long.MaxValue, Ct);
        var second = Random(100);
        await Database.Files.WriteAsync("f", new MemoryStream(second), long.MaxValue, Ct);

        Assert.Equal(second, await Database.Files.ReadAllBytesAsync("f", Ct));
        Assert.Equal(1, await CountChunksAsync());
    }

    [Fact]
    public async Task Create_only_keeps_the_first_of_two_nodes()
    {
        await using var other = Database.OpenAnotherNode();
        var results = await Task.WhenAll(
            Database.Files.CreateAsync("keys/signing", "one"u8.ToArray(), Ct),
            other.Files.CreateAsync("keys/signing", "two"u8.ToArray(), Ct));

        Assert.Single(results, created => created);
        var kept = await Database.Files.ReadAllBytesAsync("keys/signing", Ct);
        Assert.Equal(results[0] ? "one"u8.ToArray() : "two"u8.ToArray(), kept);
        Assert.False(await Database.Files.CreateAsync("keys/signing", "three"u8.ToArray(), Ct));
        Assert.Equal(kept, await Database.Files.ReadAllBytesAsync("keys/signing", Ct));
        Assert.Equal(1, await CountChunksAsync());
    }

    [Fact]
    public async Task Listing_and_deleting_go_by_prefix_only()
    {
        foreach (var path in (string[])["builds/1/Dockerfile", "builds/1/secrets", "builds/10/Dockerfile", "keys/a", "builds/1_x"])
        {
            await Database.Files.WriteAllBytesAsync(path, "x"u8.ToArray(), Ct);
        }
        Assert.Equal(["builds/1/Dockerfile", "builds/1/secrets"], await Database.Files.ListAsync("builds/1/", Ct));
        Assert.Equal(["builds/1/Dockerfile", "builds/1/secrets", "builds/10/Dockerfile", "builds/1_x"], await Database.Files.ListAsync("builds/1", Ct));

        Assert.Equal(2, await Database.Files.DeleteAsync("builds/1/", Ct));
        Assert.Equal(["builds/10/Dockerfile", "builds/1_x", "keys/a"], await Database.Files.ListAsync("", Ct));
        Assert.Equal(3, await CountChunksAsync());
    }

    /// <summary>Every chunk stored: none may outlive the file it belonged to.</summary>
    private Task<long> CountChunksAsync() => Database.CountRowsAsync("shared_file_chunks");
}

public sealed class SqliteSharedFileStoreTests : SharedFileStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.Sqlite;
}

public sealed class PostgreSqlSharedFileStoreTests : SharedFileStoreContractTests
{
    protected override MetadataProvider Provider => MetadataProvider.PostgreSql;
}
