using System.Net.Sockets;
using System.Text;

namespace Wharf.Server.Tests.Api;

/// <summary>HTTP/1.1 over a bare socket, for requests HttpClient will not send as asked (a body that never ends, a length that lies).</summary>
internal static class RawHttp
{
    public sealed record Response(int Status, string Headers, string Body);

    /// <summary>The outcome of streaming a chunked body: the answer (null when the server hung up first) and how much was sent before it.</summary>
    public sealed record ChunkedOutcome(Response? Response, long BytesSent);

    /// <summary>
    /// Sends <paramref name="head"/> (request line and headers, without the blank line) with <c>Transfer-Encoding: chunked</c>,
    /// then <paramref name="prefix"/> and filler bytes up to <paramref name="total"/>, in 64 KiB chunks, while reading the answer.
    /// Stops sending as soon as the answer has come or the server has closed the connection.
    /// </summary>
    public static async Task<ChunkedOutcome> SendChunkedAsync(int port, string head, byte[] prefix, long total, CancellationToken ct)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + "\r\nTransfer-Encoding: chunked\r\n\r\n"), ct);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var answer = ReadResponseAsync(stream, TimeSpan.FromMinutes(2), reading.Token);
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'a');
        long sent = 0;
        try
        {
            var first = true;
            while (sent < total && !answer.IsCompleted)
            {
                var payload = first ? [.. prefix, .. chunk.AsSpan(0, chunk.Length - prefix.Length)] : chunk;
                first = false;
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{payload.Length:x}\r\n"), ct);
                await stream.WriteAsync(payload, ct);
                await stream.WriteAsync("\r\n"u8.ToArray(), ct);
                sent += payload.Length;
            }
            if (!answer.IsCompleted) await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), ct);
        }
        catch (IOException)
        {
            // The server closed the connection while we were still sending: it has answered or given up reading.
        }
        try
        {
            return new ChunkedOutcome(await answer, sent);
        }
        catch (IOException)
        {
            return new ChunkedOutcome(null, sent);
        }
    }

    /// <summary>Reads one response (headers and a Content-Length body).</summary>
    public static async Task<Response> ReadResponseAsync(Stream stream, TimeSpan timeout, CancellationToken ct = default)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(timeout);
        var buffer = new MemoryStream();
        var block = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOfBlankLine(buffer)) < 0)
        {
            var n = await stream.ReadAsync(block, timer.Token);
            if (n == 0) throw new IOException("The server closed the connection before answering.");
            buffer.Write(block, 0, n);
        }
        var text = Encoding.ASCII.GetString(buffer.GetBuffer(), 0, headerEnd);
        var status = int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var length = 0;
        foreach (var line in text.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        while (buffer.Length < headerEnd + 4 + length)
        {
            var n = await stream.ReadAsync(block, timer.Token);
            if (n == 0) break;
            buffer.Write(block, 0, n);
        }
        var body = Encoding.UTF8.GetString(buffer.GetBuffer(), headerEnd + 4, (int)Math.Min(length, buffer.Length - headerEnd - 4));
        return new Response(status, text, body);
    }

    private static int IndexOfBlankLine(MemoryStream buffer) =>
        buffer.GetBuffer().AsSpan(0, (int)buffer.Length).IndexOf("\r\n\r\n"u8);
}
