using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Wharf.Builds.Tests;

/// <summary>Build context archives written in memory, including hostile ones.</summary>
public sealed class ContextArchive
{
    private readonly MemoryStream _buffer = new();
    private readonly TarWriter _writer;

    public ContextArchive() => _writer = new TarWriter(_buffer, TarEntryFormat.Pax, leaveOpen: true);

    public ContextArchive Directory(string name)
    {
        _writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ED });
        return this;
    }

    public ContextArchive File(string name, string content) => File(name, Encoding.UTF8.GetBytes(content));

    public ContextArchive File(string name, byte[] content)
    {
        _writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content), Mode = (UnixFileMode)0x1A4 });
        return this;
    }

    public ContextArchive Symlink(string name, string target)
    {
        _writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });
        return this;
    }

    public byte[] Tar()
    {
        _writer.Dispose();
        return _buffer.ToArray();
    }

    public byte[] TarGz()
    {
        var tar = Tar();
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(tar);
        return output.ToArray();
    }
}
