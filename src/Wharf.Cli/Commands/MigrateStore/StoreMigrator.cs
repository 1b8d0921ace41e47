using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Digests;
using Wharf.Core.Storage;
using Wharf.Data;
using Wharf.Data.PostgreSql;
using Wharf.Data.StoreMigration;
using Wharf.Server;
using Wharf.Storage;
using Wharf.Storage.FileSystem;

namespace Wharf.Cli.Commands.MigrateStore;

/// <summary>
/// Moves an embedded instance onto the scale-out stores: migrates the target database, refuses a target that holds
/// data it did not put there, copies every table (<see cref="SqliteToPostgreSqlTables"/>), then every blob the source
/// database lists, each streamed through the target's verified single-request write (<see cref="IUploadStore.WriteAsync"/>:
/// nothing is stored under a digest its bytes do not hash to). Progress is kept in the target
/// (<see cref="StoreMigrationProgress"/>), so a run that is stopped or killed is continued by running it again.
/// </summary>
public sealed class StoreMigrator : IAsyncDisposable
{
    /// <summary>
    /// For tests: after this many bytes of blobs were read from the source, the copy stops reading (mid-blob) and waits,
    /// having printed <see cref="HoldingLine"/>, so that a test can kill it at a known point of the copy.
    /// </summary>
    public const string HoldVariable = "WHARF_MIGRATE_STORE_HOLD_AFTER_BYTES";

    public const string HoldingLine = "migrate-store: holding";

    private const int BlobPage = 500;

    private readonly string _sourceDir;
    private readonly string _sourceDatabase;
    private readonly PostgreSqlConnections _connections;
    private readonly ServiceProvider _storage;
    private readonly FileSystemBlobStore _sourceBlobs;
    private readonly TextWriter _out;
    private readonly string _targetStorage;

    private StoreMigrator(string sourceDir, string sourceDatabase, PostgreSqlConnections connections, ServiceProvider storage, string targetStorage, TextWriter output)
    {
        _sourceDir = sourceDir;
        _sourceDatabase = sourceDatabase;
        _connections = connections;
        _storage = storage;
        _targetStorage = targetStorage;
        _out = output;
        _sourceBlobs = new FileSystemBlobStore(new FileSystemStorageOptions { Path = sourceDir });
    }

    /// <summary>Reads the target from <paramref name="args"/> (and the environment) as <c>wharf serve</c> would; checks the source exists.</summary>
    public static StoreMigrator Create(string[] args, string from, string? fromDatabase, TextWriter output)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var sourceDir = Path.GetFullPath(from);
        var sourceDatabase = Path.GetFullPath(fromDatabase ?? Path.Combine(sourceDir, "wharf.db"));
        if (!Directory.Exists(Path.Combine(sourceDir, "blobs")))
            throw new StoreMigrationException($"{sourceDir} is not a Wharf data folder (it has no blobs/ folder); give the embedded instance's --data-dir with --from.");
        if (!File.Exists(sourceDatabase))
            throw new StoreMigrationException($"There is no SQLite database at {sourceDatabase}; give its file with --from-database.");

        var database = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var problems = database.Validate().ToList();
        if (problems.Count == 0 && !database.IsPostgreSql)
            problems.Add("migrate-store copies into PostgreSQL: set Wharf:Database:Type=PostgreSql and Wharf:Database:ConnectionString (the nodes' settings).");
        var storageOptions = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        string targetStorage;
        if (storageOptions.Is(StorageOptions.FileSystemType))
        {
            if (storageOptions.Path is null)
                problems.Add("Set the target blob store: Wharf:Storage:Type=S3 with its Wharf:Storage:S3 settings (or Wharf:Storage:Path for a shared folder).");
            else if (Path.GetFullPath(storageOptions.Path).TrimEnd('/') == sourceDir.TrimEnd('/'))
                problems.Add("Wharf:Storage:Path is the source folder itself: the target blob store must be another one.");
            targetStorage = $"the folder {storageOptions.Path}";
        }
        else
        {
            targetStorage = $"S3 bucket '{storageOptions.S3.Bucket}'{(string.IsNullOrEmpty(storageOptions.S3.Prefix) ? "" : $" under '{storageOptions.S3.Prefix}'")}";
        }
        var services = new ServiceCollection();
        services.AddLogging();
        problems.AddRange(services.AddWharfStorage(configuration, storageOptions.Path ?? sourceDir));
        if (problems.Count > 0) throw new WharfConfigurationException(problems);
        var provider = services.BuildServiceProvider();
        return new StoreMigrator(sourceDir, sourceDatabase, new PostgreSqlConnections(database.ConnectionString!), provider, targetStorage, output);
    }

    /// <summary>Copies what is left to copy; 0 when the target is complete, 1 when some blobs could not be copied.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var progress = new StoreMigrationProgress(_connections);
        var tables = new SqliteToPostgreSqlTables(_sourceDatabase, _connections, progress);
        if (await tables.PendingSourceMigrationsAsync(cancellationToken) is { Count: > 0 } pending)
        {
            throw new StoreMigrationException(
                $"The source database is behind this version of Wharf ({string.Join(", ", pending)} pending): run `wharf migrate --data-dir {_sourceDir}` first.");
        }
        if (await LegacyKeyNotInDatabaseAsync(tables, cancellationToken) is { } legacy)
        {
            throw new StoreMigrationException(
                $"{legacy} is a key an earlier version kept in the data folder, and the database does not hold it yet: start the embedded " +
                "instance once with this version (it moves its keys into the database), stop it, then run migrate-store.");
        }
        var applied = await new PostgreSqlMigrator(_connections).MigrateAsync(cancellationToken);
        await WharfServer.CheckReadinessAsync(_storage, cancellationToken);
        Say($"migrate-store: from {_sourceDatabase} and {Path.Combine(_sourceDir, "blobs")} into {_connections.Describe()} and {_targetStorage}" +
            (applied > 0 ? $" ({applied} migrations applied to the target)" : ""));

        var items = await progress.ReadAsync(cancellationToken);
        if (items.TryGetValue(StoreMigrationProgress.Source, out var started))
        {
            if (!string.Equals(started.Position, _sourceDir, StringComparison.Ordinal))
                throw new StoreMigrationException($"The target is being filled from {started.Position}, not from {_sourceDir}: finish that copy, or use a new, empty target.");
            if (items.ContainsKey(StoreMigrationProgress.Complete))
            {
                Say("The target already holds a complete copy of this source: nothing to do.");
                return 0;
            }
            Say("Continuing the copy an earlier run started.");
        }
        else
        {
            if (await tables.FirstTargetTableWithRowsAsync(cancellationToken) is { } table)
                throw new StoreMigrationException($"The target database is not empty (table {table} has rows) and no migrate-store started it: copy only into a new, empty database.");
            await foreach (var blob in _storage.GetRequiredService<IBlobStore>().ListAsync(cancellationToken))
            {
                throw new StoreMigrationException($"The target blob store is not empty ({blob.Digest} is stored there) and no migrate-store started it: copy only into a new, empty bucket or prefix.");
            }
        }
        if (await tables.SchemaProblemsAsync(cancellationToken) is { Count: > 0 } problems)
            throw new StoreMigrationException(string.Join(" ", problems));
        if (started is null) await progress.SetAsync(StoreMigrationProgress.Source, _sourceDir, done: false, cancellationToken);

        var rows = 0L;
        await tables.CopyAsync(p =>
        {
            if (!p.Done) return;
            rows += p.Rows;
            Say($"  {p.Table}: {p.Rows} rows");
        }, cancellationToken);

        var failed = await CopyBlobsAsync(tables, progress, cancellationToken);
        if (failed > 0)
        {
            await Console.Error.WriteLineAsync($"wharf migrate-store: {failed} blob{(failed == 1 ? "" : "s")} could not be copied (listed above). Fix the source and run migrate-store again: it copies only what is missing.");
            return 1;
        }
        await progress.SetAsync(StoreMigrationProgress.Complete, null, done: true, cancellationToken);
        Say($"Done: {rows} rows and every blob copied, each blob's digest verified. Start the nodes on the target.");
        return 0;
    }

    /// <summary>
    /// A key file of the data folder's old place (keys/dataprotection/*.xml, keys/token-signing.pem) that the source's
    /// shared files lack: a node on the target would never see it, and what it encrypted could not be read there.
    /// </summary>
    private async Task<string?> LegacyKeyNotInDatabaseAsync(SqliteToPostgreSqlTables tables, CancellationToken cancellationToken)
    {
        var keys = Path.Combine(_sourceDir, "keys");
        var ring = Path.Combine(keys, "dataprotection");
        if (Directory.Exists(ring))
        {
            foreach (var file in Directory.EnumerateFiles(ring, "*.xml"))
            {
                if (!await tables.SourceHasSharedFileAsync("dataprotection/" + Path.GetFileName(file), cancellationToken)) return file;
            }
        }
        var signing = Path.Combine(keys, "token-signing.pem");
        return File.Exists(signing) && !await tables.SourceHasSharedFileAsync("keys/token-signing.pem", cancellationToken) ? signing : null;
    }

    private async Task<int> CopyBlobsAsync(SqliteToPostgreSqlTables tables, StoreMigrationProgress progress, CancellationToken cancellationToken)
    {
        var targetBlobs = _storage.GetRequiredService<IBlobStore>();
        var uploads = _storage.GetRequiredService<IUploadStore>();
        var hold = Environment.GetEnvironmentVariable(HoldVariable) is { Length: > 0 } text ? long.Parse(text, CultureInfo.InvariantCulture) : (long?)null;
        var reader = new HoldingReads(hold, _out);
        var items = await progress.ReadAsync(cancellationToken);
        var failed = 0;
        long copied = 0, bytes = 0, present = 0, manifests = 0, deleting = 0;

        async Task<bool> CopyAsync(SourceBlob blob)
        {
            var (digestText, size) = (blob.Digest, blob.Size);
            var item = StoreMigrationProgress.FailedBlob(digestText);
            string? problem;
            if (!Digest.TryParse(digestText, out var digest)) problem = "not a digest";
            else if (await targetBlobs.StatAsync(digest, cancellationToken) is { } stored && stored.Size == size)
            {
                present++;
                problem = null;
            }
            else
            {
                await using var source = await _sourceBlobs.OpenReadAsync(digest, 0, null, cancellationToken);
                if (source is null && (blob.IsManifest || blob.IsDeleting))
                {
                    // A manifest's bytes live in the manifests table (copied with it), and a blob the collector had
                    // claimed is being deleted (its row, copied as 'deleting', is finished off by the target's collector).
                    if (blob.IsManifest) manifests++;
                    else deleting++;
                    problem = null;
                }
                else if (source is null) problem = $"missing from {Path.Combine(_sourceDir, "blobs")}";
                else
                {
                    var result = await uploads.WriteAsync(digest, reader.Wrap(source), size, cancellationToken);
                    problem = result.Status switch
                    {
                        UploadStatus.Ok => null,
                        UploadStatus.DigestMismatch => $"its bytes in the source hash to {result.ActualDigest}: the file is corrupt",
                        UploadStatus.SizeInvalid => $"its file in the source does not have the {size} bytes the database records",
                        _ => result.Status.ToString(),
                    };
                    if (problem is null)
                    {
                        copied++;
                        bytes += size;
                    }
                }
            }
            if (problem is null)
            {
                if (items.ContainsKey(item)) await progress.RemoveAsync(item, cancellationToken);
                return true;
            }
            failed++;
            await progress.SetAsync(item, problem, done: false, cancellationToken);
            await Console.Error.WriteLineAsync($"  blob {digestText}: {problem}");
            return false;
        }

        // Blobs an earlier run could not copy, then the rest in digest order from where it stopped.
        foreach (var (item, _) in items.Where(i => i.Key.StartsWith("blob:", StringComparison.Ordinal)))
        {
            var digestText = item["blob:".Length..];
            if (await tables.SourceBlobAsync(digestText, cancellationToken) is { } blob) await CopyAsync(blob);
            else await progress.RemoveAsync(item, cancellationToken);
        }
        var after = items.GetValueOrDefault(StoreMigrationProgress.Blobs)?.Position;
        var done = items.GetValueOrDefault(StoreMigrationProgress.Blobs)?.Done == true;
        var total = await tables.SourceBlobCountAsync(null, cancellationToken);
        var seen = after is null ? 0 : await tables.SourceBlobCountAsync(after, cancellationToken);
        while (!done)
        {
            var page = await tables.SourceBlobsAsync(after, BlobPage, cancellationToken);
            if (page.Count == 0) break;
            foreach (var blob in page)
            {
                await CopyAsync(blob);
                after = blob.Digest;
                seen++;
                await progress.SetAsync(StoreMigrationProgress.Blobs, after, done: false, cancellationToken);
                if (seen % 100 == 0 || seen == total) Say($"  blobs: {seen} of {total}");
            }
        }
        await progress.SetAsync(StoreMigrationProgress.Blobs, after, done: true, cancellationToken);
        Say($"  blobs: {total} listed, {copied} copied ({bytes / (1024.0 * 1024.0):0.0} MiB){(present > 0 ? $", {present} already in the target" : "")}" +
            (manifests > 0 ? $", {manifests} manifests (their bytes are rows)" : "") +
            (deleting > 0 ? $", {deleting} being deleted by garbage collection (already gone)" : ""));
        return failed;
    }

    private void Say(string line)
    {
        _out.WriteLine(line);
        _out.Flush();
    }

    public async ValueTask DisposeAsync()
    {
        _sourceBlobs.Dispose();
        await _storage.DisposeAsync();
        await _connections.DisposeAsync();
    }

    /// <summary>Counts the blob bytes read from the source; with a hold set, stops reading (and says so) once that many were read.</summary>
    private sealed class HoldingReads(long? holdAfter, TextWriter output)
    {
        private long _read;

        private long HoldAfter => holdAfter ?? long.MaxValue;

        public Stream Wrap(Stream source) => holdAfter is null ? source : new Counted(source, this);

        private async ValueTask BeforeReadAsync(CancellationToken cancellationToken)
        {
            if (_read < holdAfter) return;
            await output.WriteLineAsync($"{HoldingLine} after {_read} bytes of blobs ({HoldVariable})");
            await output.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        private sealed class Counted(Stream inner, HoldingReads reads) : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => inner.Length;
            public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                await reads.BeforeReadAsync(cancellationToken);
                var room = (int)Math.Min(buffer.Length, Math.Max(1, reads.HoldAfter - reads._read));
                var n = await inner.ReadAsync(buffer[..room], cancellationToken);
                reads._read += n;
                return n;
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }

    }
}
