using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Wharf.Core.Digests;
using Wharf.Core.Storage;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// The file system's <see cref="BlobWriter"/>: the bytes go to one file in <c>tmp/</c>, hashed while they are written,
/// and that file is what readers follow while it grows and what becomes the blob (fsynced and renamed into place once
/// its digest is verified), so each byte is written once. Each write is a positioned write into the page cache, then
/// hashed, both on the caller's thread (<see cref="LocalFileIo"/>).
/// </summary>
internal sealed class FileSystemBlobWriter : BlobWriter
{
    private readonly Digest _digest;
    private readonly long? _expectedLength;
    private readonly string _temp;
    private readonly Func<string, BlobInfo> _keep;
    private readonly SafeFileHandle _file;
    private readonly IncrementalHash _hash;
    private long _written;
    private long _writebackFrom;
    private bool _tooLong;
    private bool _ended;

    /// <param name="keep">Moves the verified, fsynced file at the given path into its place as the blob.</param>
    public FileSystemBlobWriter(Digest digest, long? expectedLength, string temp, Func<string, BlobInfo> keep)
    {
        _digest = digest;
        _expectedLength = expectedLength;
        _temp = temp;
        _keep = keep;
        _file = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        _hash = Digest.CreateHash(digest.Algorithm);
    }

    public override long Written => Volatile.Read(ref _written);

    public override bool CanReadWhileWriting => true;

    public override async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        if (_tooLong) return false;
        var offset = _written;
        if (_expectedLength is { } max && offset + data.Length > max)
        {
            _tooLong = true; // the excess is never written
            return false;
        }
        await LocalFileIo.WriteAsync(_file, data, offset, cancellationToken);
        _hash.AppendData(data.Span);
        var written = offset + data.Length;
        Volatile.Write(ref _written, written);
        if (written - _writebackFrom >= FileSystemBlobStore.WritebackChunk)
        {
            EarlyWriteback.Start(_file, _writebackFrom, written - _writebackFrom);
            _writebackFrom = written;
        }
        return true;
    }

    public override GrowingFileReader? OpenWritten() => _ended ? null : GrowingFileReader.TryOpen(_temp);

    public override Task<UploadResult> CompleteAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        try
        {
            if (_tooLong || (_expectedLength is { } expected && expected != _written)) return Task.FromResult(new UploadResult(UploadStatus.SizeInvalid));
            var actual = FileSystemBlobStore.FinishHash(_hash, _digest.Algorithm);
            if (actual != _digest) return Task.FromResult(new UploadResult(UploadStatus.DigestMismatch, ActualDigest: actual));
            RandomAccess.FlushToDisk(_file);
            _file.Dispose();
            return Task.FromResult(new UploadResult(UploadStatus.Ok, Blob: _keep(_temp)));
        }
        finally
        {
            End();
        }
    }

    public override ValueTask DisposeAsync()
    {
        End();
        return ValueTask.CompletedTask;
    }

    private void End()
    {
        if (_ended) return;
        _ended = true;
        _file.Dispose();
        _hash.Dispose();
        // After a kept blob the file is in its place and this finds nothing; readers still open read on.
        FileSystemBlobStore.TryDeleteFile(_temp);
    }
}
