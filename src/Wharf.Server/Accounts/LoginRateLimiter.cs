using System.Collections.Concurrent;
using Wharf.Core.Accounts;

namespace Wharf.Server.Accounts;

/// <summary>
/// Counts failed logins per user name and per client address in fixed windows (in memory, per node). Once either
/// count reaches <see cref="AuthOptions.MaxFailedLogins"/>, further attempts are refused until the window ends.
/// </summary>
public sealed class LoginRateLimiter(AuthOptions options, TimeProvider time)
{
    private const int MaxKeys = 100_000;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    private sealed class Window(long start)
    {
        public long Start = start;
        public int Failures;
    }

    /// <summary>How long the caller must wait, or null when they may try.</summary>
    public TimeSpan? RetryAfter(string? username, string? clientAddress)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var wait = Blocked("u:" + username, now, username is not null);
        var waitAddress = Blocked("a:" + clientAddress, now, clientAddress is not null);
        if (wait is null) return waitAddress;
        if (waitAddress is null) return wait;
        return wait > waitAddress ? wait : waitAddress;
    }

    public void RecordFailure(string? username, string? clientAddress)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_windows.Count > MaxKeys) _windows.Clear();
        if (username is not null) Count("u:" + username, now);
        if (clientAddress is not null) Count("a:" + clientAddress, now);
    }

    private TimeSpan? Blocked(string key, long now, bool applies)
    {
        if (!applies || !_windows.TryGetValue(key, out var window)) return null;
        lock (window)
        {
            var end = window.Start + (long)options.FailedLoginWindow.TotalMilliseconds;
            if (now >= end || window.Failures < options.MaxFailedLogins) return null;
            return TimeSpan.FromMilliseconds(end - now);
        }
    }

    private void Count(string key, long now)
    {
        var window = _windows.GetOrAdd(key, _ => new Window(now));
        lock (window)
        {
            if (now >= window.Start + (long)options.FailedLoginWindow.TotalMilliseconds)
            {
                window.Start = now;
                window.Failures = 0;
            }
            window.Failures++;
        }
    }
}
