using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Wharf.Testing;

/// <summary>One request a <see cref="WebhookReceiver"/> got.</summary>
public sealed record ReceivedHook(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var value) ? value : null;
}

/// <summary>
/// A webhook receiver on a loopback port: a minimal HTTP/1.1 server (one request per connection) that records every
/// request and answers 200 (or <see cref="Status"/>). <see cref="StopAsync"/> closes the port (a receiver that is
/// down refuses connections); <see cref="StartAsync(int)"/> listens again on the same port.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedHook> _received = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private TcpListener? _listener;
    private CancellationTokenSource? _stop;
    private Task? _loop;

    public int Port { get; private set; }

    /// <summary>The status answered. Default 200.</summary>
    public int Status { get; set; } = 200;

    public string Url(string path = "/hook") => $"http://127.0.0.1:{Port}{path}";

    public IReadOnlyList<ReceivedHook> Received => _received.ToArray();

    public static WebhookReceiver Start(int port = 0)
    {
        var receiver = new WebhookReceiver();
        receiver.Listen(port);
        return receiver;
    }

    public void Listen(int port)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _stop = new CancellationTokenSource();
        _loop = AcceptAsync(_listener, _stop.Token);
    }

    public async Task StopAsync()
    {
        if (_listener is null) return;
        await _stop!.CancelAsync();
        _listener.Stop();
        try { await _loop!; } catch (OperationCanceledException) { } catch (SocketException) { } catch (ObjectDisposedException) { }
        _listener = null;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests have arrived in all; returns them.</summary>
    public async Task<IReadOnlyList<ReceivedHook>> WaitForAsync(int count, CancellationToken ct)
    {
        while (_received.Count < count) await _arrived.WaitAsync(ct);
        return Received;
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var client = await listener.AcceptTcpClientAsync(ct);
            _ = Task.Run(() => ServeAsync(client, ct), ct);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new MemoryStream();
                var buffer = new byte[8192];
                int headerEnd;
                while ((headerEnd = IndexOfHeaderEnd(head)) < 0)
                {
                    var n = await stream.ReadAsync(buffer, ct);
                    if (n == 0) return;
                    head.Write(buffer, 0, n);
                }
                var all = head.ToArray();
                var lines = Encoding.ASCII.GetString(all, 0, headerEnd).Split("\r\n");
                var requestLine = lines[0].Split(' ');
                var headers = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':');
                    if (colon > 0) headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
                }
                var length = headers.TryGetValue("content-length", out var text) ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 0;
                var body = new MemoryStream();
                body.Write(all, headerEnd + 4, all.Length - headerEnd - 4);
                while (body.Length < length)
                {
                    var n = await stream.ReadAsync(buffer, ct);
                    if (n == 0) break;
                    body.Write(buffer, 0, n);
                }
                _received.Enqueue(new ReceivedHook(requestLine[0], requestLine[1], headers, body.ToArray()));
                _arrived.Release();
                var status = Status;
                var response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {(status < 300 ? "OK" : "Nope")}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(response, ct);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The sender went away or the receiver stopped.
            }
        }
    }

    private static int IndexOfHeaderEnd(MemoryStream stream)
    {
        var span = stream.GetBuffer().AsSpan(0, (int)stream.Length);
        return span.IndexOf("\r\n\r\n"u8);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _arrived.Dispose();
    }
}
