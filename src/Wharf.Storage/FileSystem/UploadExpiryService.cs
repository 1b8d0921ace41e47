using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Core.Storage;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Removes upload sessions idle for longer than <see cref="FileSystemStorageOptions.UploadIdleTimeout"/>:
/// once at start (sessions left over from before a restart) and then every
/// <see cref="FileSystemStorageOptions.UploadExpiryInterval"/>.
/// </summary>
public sealed partial class UploadExpiryService : BackgroundService
{
    private readonly IUploadStore _uploads;
    private readonly FileSystemStorageOptions _options;
    private readonly ILogger<UploadExpiryService> _logger;
    private readonly TimeProvider _time;

    public UploadExpiryService(IUploadStore uploads, FileSystemStorageOptions options, ILogger<UploadExpiryService> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _uploads = uploads;
        _options = options;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.UploadExpiryInterval, _time);
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
    internal async Task<int> ExpireOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var removed = await _uploads.ExpireIdleAsync(_options.UploadIdleTimeout, cancellationToken);
            if (removed > 0) LogExpired(removed, _options.UploadIdleTimeout);
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
