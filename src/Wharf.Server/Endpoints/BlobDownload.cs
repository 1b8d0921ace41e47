using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Wharf.Server.Endpoints;

/// <summary>
/// The HTTP side of a blob GET: which bytes a request asks for (RFC 9110 conditional and range requests, as far as a
/// content-addressed blob needs them), and the copy of those bytes into the response.
/// </summary>
internal static class BlobDownload
{
    /// <summary>How much is read from the store per pipe write: large enough that a write costs little per byte.</summary>
    private const int ChunkSize = 512 * 1024;

    /// <summary>
    /// How much response data Kestrel may hold for a connection before a flush waits (<c>MaxResponseBufferSize</c>,
    /// 64 KiB by default): two chunks. With the default, every chunk's flush waited until the socket had taken all of
    /// it, so reading the next chunk from storage and sending the last one took turns. With room for a second chunk,
    /// the next read fills the pipe while the transport sends the previous one, and a connection still holds at most
    /// this much plus the chunk being read, whatever the blob's size or the client's speed.
    /// </summary>
    public const int ResponseBufferSize = 2 * ChunkSize;

    /// <summary>What to send: everything (200), one range (206), nothing (416: the range is outside the blob).</summary>
    public readonly record struct Selection(int Status, long Offset, long Length);

    /// <summary>
    /// The part of a blob of <paramref name="size"/> bytes to send for this request. A single byte range is honoured
    /// (<c>a-b</c>, <c>a-</c>, <c>-n</c>); a header that does not parse, more than one range, a unit other than bytes,
    /// or an <c>If-Range</c> that names another entity is ignored and the whole blob is sent, as RFC 9110 allows.
    /// </summary>
    public static Selection Select(HttpRequest request, long size, string entityTag)
    {
        var whole = new Selection(StatusCodes.Status200OK, 0, size);
        var header = request.Headers.Range;
        if (header.Count == 0 || !HttpMethods.IsGet(request.Method)) return whole;
        if (request.Headers.IfRange is { Count: > 0 } ifRange && !string.Equals(ifRange.ToString().Trim(), entityTag, StringComparison.Ordinal))
        {
            return whole; // a date or another entity tag: we give no Last-Modified, so only our own tag matches
        }
        if (header.Count != 1 || !RangeHeaderValue.TryParse(header.ToString(), out var range)
            || !string.Equals(range.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
        {
            return whole;
        }
        var item = range.Ranges.First();
        long start, end;
        if (item.From is { } from)
        {
            if (from >= size) return new Selection(StatusCodes.Status416RangeNotSatisfiable, 0, 0);
            start = from;
            end = item.To is { } to ? Math.Min(to, size - 1) : size - 1;
        }
        else
        {
            var suffix = item.To ?? 0;
            if (suffix <= 0 || size == 0) return new Selection(StatusCodes.Status416RangeNotSatisfiable, 0, 0);
            start = Math.Max(0, size - suffix);
            end = size - 1;
        }
        return new Selection(StatusCodes.Status206PartialContent, start, end - start + 1);
    }

    /// <summary>The <c>Content-Range</c> value of a 206 or 416.</summary>
    public static string ContentRange(Selection selection, long size) =>
        selection.Status == StatusCodes.Status416RangeNotSatisfiable
            ? string.Create(CultureInfo.InvariantCulture, $"bytes */{size}")
            : string.Create(CultureInfo.InvariantCulture, $"bytes {selection.Offset}-{selection.Offset + selection.Length - 1}/{size}");

    /// <summary>True when <c>If-None-Match</c> names the blob's entity tag (or <c>*</c>): the client has it (304).</summary>
    public static bool ClientHasIt(HttpRequest request, string entityTag)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch;
        if (ifNoneMatch.Count == 0) return false;
        foreach (var value in ifNoneMatch)
        {
            if (value is null) continue;
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part;
                if (tag == "*" || string.Equals(tag, entityTag, StringComparison.Ordinal)) return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Copies exactly <paramref name="length"/> bytes of <paramref name="content"/> into the response. The store reads
    /// straight into the response pipe's own memory, one large chunk at a time, so each byte is copied once on its
    /// way from the store to the socket, and no buffer of ours sits in between. A store that ends early aborts the
    /// response (the client sees a short body, never a wrong one).
    /// </summary>
    public static async Task CopyAsync(Stream content, HttpResponse response, long length, CancellationToken cancellationToken)
    {
        var writer = response.BodyWriter;
        var remaining = length;
        while (remaining > 0)
        {
            var memory = writer.GetMemory(ChunkSize);
            if (memory.Length > remaining) memory = memory[..(int)remaining];
            var read = await content.ReadAsync(memory, cancellationToken);
            if (read == 0) throw new IOException($"The blob store's stream ended {remaining} bytes before the end of the range.");
            writer.Advance(read);
            remaining -= read;
            var flush = await writer.FlushAsync(cancellationToken);
            if (flush.IsCompleted || flush.IsCanceled) return;
        }
    }
}
