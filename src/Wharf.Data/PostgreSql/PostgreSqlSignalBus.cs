using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wharf.Core.Signals;

namespace Wharf.Data.PostgreSql;

/// <summary>
/// <see cref="ISignalBus"/> over PostgreSQL LISTEN/NOTIFY: a signal is delivered to this process at once and sent as a
/// <c>NOTIFY wharf_signals</c> in the background; every node listens on one dedicated connection and hands what other
/// nodes sent to its own subscribers. When the listening connection drops, subscribers are told that anything may have
/// changed (<see cref="ISignalBus.AnySubject"/>), then again once it is back, since signals sent meanwhile are lost.
/// </summary>
public sealed partial class PostgreSqlSignalBus : BackgroundService, ISignalBus
{
    /// <summary>The NOTIFY channel.</summary>
    public const string Channel = "wharf_signals";

    /// <summary>PostgreSQL refuses payloads of 8000 bytes and more; a longer subject is sent as "anything of this topic".</summary>
    private const int MaxPayloadBytes = 7_900;

    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(30);

    private readonly InProcessSignalBus _local;
    private readonly PostgreSqlConnections _connections;
    private readonly ILogger<PostgreSqlSignalBus> _logger;
    private readonly Channel<string> _outbox = System.Threading.Channels.Channel.CreateBounded<string>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PostgreSqlSignalBus(PostgreSqlConnections connections, InProcessSignalBus local, ILogger<PostgreSqlSignalBus> logger)
    {
        ArgumentNullException.ThrowIfNull(connections);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(logger);
        _connections = connections;
        _local = local;
        _logger = logger;
    }

    /// <summary>This node's id in the payloads (its own notifications come back to it and are skipped).</summary>
    public string NodeId { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>Completes once this node listens, so signals other nodes send from then on reach it.</summary>
    public Task Listening => _listening.Task;

    public void Publish(SignalTopic topic, string subject)
    {
        _local.Publish(topic, subject);
        var payload = string.Create(CultureInfo.InvariantCulture, $"{NodeId}|{(int)topic}|{subject}");
        if (Encoding.UTF8.GetByteCount(payload) > MaxPayloadBytes)
        {
            payload = string.Create(CultureInfo.InvariantCulture, $"{NodeId}|{(int)topic}|{ISignalBus.AnySubject}");
        }
        _outbox.Writer.TryWrite(payload);
    }

    public IDisposable Subscribe(SignalTopic topic, Action<string> handler) => _local.Subscribe(topic, handler);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(SendAsync(stoppingToken), ListenAsync(stoppingToken));

    /// <summary>Sends what was published, a batch per round trip.</summary>
    private async Task SendAsync(CancellationToken stoppingToken)
    {
        var batch = new List<string>();
        try
        {
            while (await _outbox.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < 500 && _outbox.Reader.TryRead(out var payload)) batch.Add(payload);
                try
                {
                    await using var connection = await _connections.OpenAsync(stoppingToken);
                    await connection.ExecuteAsync(new CommandDefinition(
                        "SELECT pg_notify(@channel, p) FROM unnest(@payloads) AS p", new { channel = Channel, payloads = batch.ToArray() },
                        cancellationToken: stoppingToken));
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    // Signals are hints: other nodes fall back to their time to live and polls.
                    LogSendFailed(_logger, batch.Count, e);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Listens on one dedicated connection, reconnecting with backoff when it drops.</summary>
    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var connectedBefore = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _connections.OpenAsync(stoppingToken);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }
                // Anything sent while this node was not listening is lost: start afresh.
                if (connectedBefore) _local.PublishAnyChange();
                connectedBefore = true;
                delay = TimeSpan.FromMilliseconds(250);
                _listening.TrySetResult();
                LogListening(_logger, NodeId);
                while (!stoppingToken.IsCancellationRequested) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or InvalidOperationException)
            {
                LogListenFailed(_logger, delay, e);
                _local.PublishAnyChange();
            }
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxReconnectDelay.Ticks));
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel != Channel) return;
        var payload = e.Payload;
        var first = payload.IndexOf('|', StringComparison.Ordinal);
        var second = first < 0 ? -1 : payload.IndexOf('|', first + 1);
        if (second < 0) return;
        if (payload.AsSpan(0, first).SequenceEqual(NodeId)) return;
        if (!int.TryParse(payload.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var topic)
            || !Enum.IsDefined((SignalTopic)topic))
        {
            return;
        }
        _local.Publish((SignalTopic)topic, payload[(second + 1)..]);
    }

    [LoggerMessage(EventId = 710, Level = LogLevel.Debug, Message = "Listening for signals of other nodes as node {NodeId}")]
    private static partial void LogListening(ILogger logger, string nodeId);

    [LoggerMessage(EventId = 711, Level = LogLevel.Warning, Message = "Lost the connection that listens for other nodes' signals; caches start afresh and it reconnects in {Delay}")]
    private static partial void LogListenFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 712, Level = LogLevel.Warning, Message = "Could not send {Count} signals to other nodes; they fall back to their time to live")]
    private static partial void LogSendFailed(ILogger logger, int count, Exception exception);
}
