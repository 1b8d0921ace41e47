using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Wharf.Core.Builds;
using Wharf.Core.Webhooks;

namespace Wharf.Server.Webhooks;

/// <summary>The outcome of one POST to a receiver.</summary>
public sealed record SendOutcome(bool Delivered, int? Status, long DurationMs, string? Error);

/// <summary>
/// Sends one delivery: a JSON POST with <c>X-Wharf-Event</c>, <c>X-Wharf-Delivery</c> and, with a secret,
/// <c>X-Wharf-Signature-256</c>. It connects only to addresses <see cref="WebhookTargets"/> allows (checked on the
/// address actually dialled), follows no redirect and reads at most a little of the answer.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const string EventHeader = "X-Wharf-Event";
    public const string DeliveryHeader = "X-Wharf-Delivery";
    public const string SignatureHeader = "X-Wharf-Signature-256";

    private readonly HttpClient _http;
    private readonly ISecretProtector _protector;

    public WebhookSender(WebhookTargets targets, WebhookOptions options, ISecretProtector protector)
    {
        _protector = protector;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.Timeout,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var host = context.DnsEndPoint.Host;
                var port = context.DnsEndPoint.Port;
                var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
                Exception? last = null;
                foreach (var address in addresses)
                {
                    if (!targets.Allows(host, port, address))
                    {
                        last = new HttpRequestException($"{host} resolves to {address}, which webhooks may not call (Wharf:Webhooks:AllowedTargets).");
                        continue;
                    }
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch (Exception e)
                    {
                        socket.Dispose();
                        last = e;
                    }
                }
                throw last ?? new HttpRequestException($"{host} has no address.");
            },
        };
        _http = new HttpClient(handler) { Timeout = options.Timeout };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Wharf-Webhooks/1");
    }

    public async Task<SendOutcome> SendAsync(LeasedDelivery delivery, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(
            delivery.Format == WebhookFormat.Distribution ? WebhookPayloads.DistributionEnvelope : "application/json");
        request.Headers.TryAddWithoutValidation(EventHeader, delivery.Event);
        request.Headers.TryAddWithoutValidation(DeliveryHeader, delivery.Id.ToString("D"));
        if (delivery.ProtectedSecret is { Length: > 0 } protectedSecret)
        {
            request.Headers.TryAddWithoutValidation(SignatureHeader, WebhookService.Sign(_protector.Unprotect(protectedSecret), body));
        }
        if (delivery.Headers is { } headers)
        {
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        }
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            var delivered = status is >= 200 and < 300 || (delivery.Format == WebhookFormat.Distribution && status is >= 300 and < 400);
            return new SendOutcome(delivered, status, clock.ElapsedMilliseconds, delivered ? null : $"The receiver answered {status} {response.ReasonPhrase}.");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or SocketException && !cancellationToken.IsCancellationRequested)
        {
            var message = e is TaskCanceledException ? "The receiver did not answer in time." : Innermost(e).Message;
            return new SendOutcome(false, null, clock.ElapsedMilliseconds, message);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null && e is HttpRequestException) e = e.InnerException;
        return e;
    }

    public void Dispose() => _http.Dispose();
}
