namespace Wharf.Core.Storage;

/// <summary>
/// Files every node of an installation must see, kept in the metadata database beside the rows that name them: a
/// build's uploaded source and secrets until a worker (on any node) is done with them, the Data Protection key ring,
/// the token-signing key. Nothing of this lives on one node's disk, so a node is a cache that is safe to lose.
/// Contents are stored in chunks of <see cref="ChunkBytes"/>, each written in a transaction of its own, so a large file
/// never holds a write transaction (SQLite's single writer) for longer than one chunk; a file appears under its path
/// only once every chunk is stored, in one transaction. Paths are plain strings (<c>builds/&lt;id&gt;/Dockerfile</c>).
/// </summary>
public interface ISharedFileStore
{
    /// <summary>Size of the chunks a file is stored in.</summary>
    public const int ChunkBytes = 1024 * 1024;

    /// <summary>
    /// Stores <paramref name="content"/> under <paramref name="path"/>, replacing any file there once it is stored whole;
    /// returns the bytes stored, or -1 when the content is longer than <paramref name="maxBytes"/> (nothing is kept).
    /// </summary>
    Task<long> WriteAsync(string path, Stream content, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="content"/> under <paramref name="path"/> only when no file is there: true when this call
    /// created it, false when one existed (another node got there first; it is left as it was).
    /// </summary>
    Task<bool> CreateAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>The file's bytes as a forward-only stream (one chunk in memory at a time), or null when there is none.</summary>
    Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>The paths that start with <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Removes every file whose path starts with <paramref name="prefix"/>; returns how many.</summary>
    Task<int> DeleteAsync(string prefix, CancellationToken cancellationToken);
}

/// <summary>Helpers over <see cref="ISharedFileStore"/>.</summary>
public static class SharedFileStoreExtensions
{
    /// <summary>A small file read whole (keys, secrets), or null when there is none.</summary>
    public static async Task<byte[]?> ReadAllBytesAsync(this ISharedFileStore store, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        await using var stream = await store.OpenReadAsync(path, cancellationToken);
        if (stream is null) return null;
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>Stores small content whole, replacing what was there.</summary>
    public static async Task WriteAllBytesAsync(this ISharedFileStore store, string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        await store.WriteAsync(path, stream, long.MaxValue, cancellationToken);
    }
}
