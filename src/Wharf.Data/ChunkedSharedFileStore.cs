using System.Buffers;
using System.Data.Common;
using Dapper;
using Wharf.Core.Storage;

namespace Wharf.Data;

/// <summary>
/// <see cref="ISharedFileStore"/> over the tables <c>shared_files</c> and <c>shared_file_chunks</c> (migration 0070 of
/// each provider, the same columns on both): the SQL is plain enough for SQLite and PostgreSQL alike, so a provider
/// only says how it opens a connection and runs a write transaction.
/// </summary>
public abstract class ChunkedSharedFileStore(TimeProvider? timeProvider) : ISharedFileStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Runs <paramref name="work"/> in one write transaction of the provider and commits it.</summary>
    protected abstract Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>An open connection for reading.</summary>
    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    public async Task<long> WriteAsync(string path, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var stored = await StoreChunksAsync(content, maxBytes, cancellationToken);
        if (stored is not { } chunks) return -1;
        try
        {
            await WriteAsync(async (connection, transaction) =>
            {
                var old = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                    "SELECT content_id FROM shared_files WHERE path = @path", new { path }, transaction, cancellationToken: cancellationToken));
                await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO shared_files (path, content_id, size, chunks, created_at) VALUES (@path, @id, @size, @count, @now)
                    ON CONFLICT (path) DO UPDATE SET content_id = excluded.content_id, size = excluded.size, chunks = excluded.chunks, created_at = excluded.created_at
                    """, new { path, id = chunks.ContentId, size = chunks.Size, count = chunks.Count, now = Now() }, transaction, cancellationToken: cancellationToken));
                if (old is not null)
                {
                    await connection.ExecuteAsync(new CommandDefinition(
                        "DELETE FROM shared_file_chunks WHERE content_id = @old", new { old }, transaction, cancellationToken: cancellationToken));
                }
                return 0;
            }, cancellationToken);
        }
        catch
        {
            await DropChunksAsync(chunks.ContentId);
            throw;
        }
        return chunks.Size;
    }

    public async Task<bool> CreateAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        var chunks = (await StoreChunksAsync(stream, long.MaxValue, cancellationToken))!.Value;
        var created = false;
        try
        {
            created = await WriteAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO shared_files (path, content_id, size, chunks, created_at) VALUES (@path, @id, @size, @count, @now)
                ON CONFLICT (path) DO NOTHING
                """, new { path, id = chunks.ContentId, size = chunks.Size, count = chunks.Count, now = Now() }, transaction, cancellationToken: cancellationToken)) == 1,
                cancellationToken);
        }
        finally
        {
            if (!created) await DropChunksAsync(chunks.ContentId);
        }
        return created;
    }

    public async Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(string content_id, long size, int chunks)?>(new CommandDefinition(
            "SELECT content_id, size, chunks FROM shared_files WHERE path = @path", new { path }, cancellationToken: cancellationToken));
        return row is { } r ? new ChunkStream(this, r.content_id, r.chunks) : null;
    }

    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var paths = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT path FROM shared_files WHERE substr(path, 1, @length) = @prefix", new { prefix, length = prefix.Length }, cancellationToken: cancellationToken));
        return paths.OrderBy(p => p, StringComparer.Ordinal).ToList();
    }

    public Task<int> DeleteAsync(string prefix, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var args = new { prefix, length = prefix.Length };
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM shared_file_chunks WHERE content_id IN (SELECT content_id FROM shared_files WHERE substr(path, 1, @length) = @prefix)",
                args, transaction, cancellationToken: cancellationToken));
            return await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM shared_files WHERE substr(path, 1, @length) = @prefix", args, transaction, cancellationToken: cancellationToken));
        }, cancellationToken);

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private readonly record struct StoredChunks(string ContentId, long Size, int Count);

    /// <summary>Stores the content as chunks of a new content id, one transaction each; null (and nothing kept) when it is longer than <paramref name="maxBytes"/>.</summary>
    private async Task<StoredChunks?> StoreChunksAsync(Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        var buffer = ArrayPool<byte>.Shared.Rent(ISharedFileStore.ChunkBytes);
        long size = 0;
        var count = 0;
        try
        {
            while (true)
            {
                var filled = await content.ReadAtLeastAsync(buffer.AsMemory(0, ISharedFileStore.ChunkBytes), ISharedFileStore.ChunkBytes, throwOnEndOfStream: false, cancellationToken);
                if (filled == 0 && count > 0) break;
                size += filled;
                if (size > maxBytes)
                {
                    await DropChunksAsync(id);
                    return null;
                }
                var data = buffer.AsSpan(0, filled).ToArray();
                var chunk = count++;
                await WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO shared_file_chunks (content_id, chunk, data) VALUES (@id, @chunk, @data)",
                    new { id, chunk, data }, transaction, cancellationToken: cancellationToken)), cancellationToken);
                if (filled < ISharedFileStore.ChunkBytes) break;
            }
            return new StoredChunks(id, size, count);
        }
        catch
        {
            await DropChunksAsync(id);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task DropChunksAsync(string id)
    {
        try
        {
            await WriteAsync((connection, transaction) => connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM shared_file_chunks WHERE content_id = @id", new { id }, transaction)), CancellationToken.None);
        }
        catch (DbException)
        {
            // Chunks no path points at are never read; the database being down must not hide the original failure.
        }
    }

    private async Task<byte[]?> ReadChunkAsync(string id, int chunk, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<byte[]?>(new CommandDefinition(
            "SELECT data FROM shared_file_chunks WHERE content_id = @id AND chunk = @chunk", new { id, chunk }, cancellationToken: cancellationToken));
    }

    /// <summary>Reads a file's chunks in order, one query and one chunk in memory at a time.</summary>
    private sealed class ChunkStream(ChunkedSharedFileStore store, string contentId, int chunks) : Stream
    {
        private byte[] _current = [];
        private int _position;
        private int _next;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_position == _current.Length)
            {
                if (_next == chunks) return 0;
                _current = await store.ReadChunkAsync(contentId, _next, cancellationToken)
                    ?? throw new IOException("The shared file was replaced or removed while it was read.");
                _next++;
                _position = 0;
            }
            var count = Math.Min(buffer.Length, _current.Length - _position);
            _current.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
