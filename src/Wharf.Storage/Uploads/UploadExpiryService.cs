using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Core.Storage;

namespace Wharf.Storage.Uploads;

/// <summary>How long an idle upload session lives, and how often idle ones are looked for.</summary>
/// <param name="IdleTimeout">A session with no activity for this long is removed (<c>Wharf:Registry:UploadIdleTimeout</c>, 24 hours).</param>
/// <param name="Interval">Time between sweeps (<c>Wharf:Storage:UploadExpiryInterval</c>, 1 minute).</param>
public sealed record UploadExpiryOptions(TimeSpan IdleTimeout, TimeSpan Interval)
{
    public static UploadExpiryOptions Default { get; } = new(TimeSpan.FromHours(24), TimeSpan.FromMinutes(1));
}

/// <summary>
/// Removes upload sessions idle for longer than <see cref="UploadExpiryOptions.IdleTimeout"/>, whatever the provider:
/// once at start (sessions left over from before a restart) and then every <see cref="UploadExpiryOptions.Interval"/>.
/// The store decides what "idle" means for its sessions and frees their storage (files, multipart uploads); several
/// nodes may sweep the same store at once. The metadata database's records of those sessions (the
/// <see cref="IUploadSessionIndex"/> that the limits on open sessions count) expire with them.
/// </summary>
public sealed partial class UploadExpiryService : BackgroundService
{
    private readonly IUploadStore _uploads;
    private readonly IUploadSessionIndex? _index;
    private readonly UploadExpiryOptions _options;
    private readonly ILogger<UploadExpiryService> _logger;
    private readonly TimeProvider _time;

    public UploadExpiryService(IUploadStore uploads, UploadExpiryOptions options, ILogger<UploadExpiryService> logger, TimeProvider? timeProvider = null)
        : this(uploads, null, options, logger, timeProvider)
    {
    }

    public UploadExpiryService(IUploadStore uploads, IUploadSessionIndex? index, UploadExpiryOptions options, ILogger<UploadExpiryService> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _uploads = uploads;
        _index = index;
        _options = options;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            do
            {
                await ExpireOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One sweep; failures are logged, not thrown, so the next tick tries again.</summary>
    public async Task<int> ExpireOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var removed = await _uploads.ExpireIdleAsync(_options.IdleTimeout, cancellationToken);
            if (_index is not null) await _index.RemoveIdleAsync(_time.GetUtcNow() - _options.IdleTimeout, cancellationToken);
            if (removed > 0) LogExpired(removed, _options.IdleTimeout);
            return removed;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(e);
            return 0;
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Removed {Count} upload sessions idle for more than {IdleTimeout}")]
    private partial void LogExpired(int count, TimeSpan idleTimeout);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Expiring idle upload sessions failed")]
    private partial void LogFailed(Exception exception);
}
