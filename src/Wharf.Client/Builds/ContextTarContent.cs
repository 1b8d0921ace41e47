using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;

namespace Wharf.Client.Builds;

/// <summary>
/// A build context folder as a gzipped tar, written straight into the request body while it is sent (chunked): no
/// temporary file, no buffering of the whole context.
/// </summary>
internal sealed class ContextTarContent : HttpContent
{
    private readonly string _directory;

    public ContextTarContent(string directory)
    {
        _directory = directory;
        Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var zip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
        await TarFile.CreateFromDirectoryAsync(_directory, zip, includeBaseDirectory: false, cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
