using System.Collections.Concurrent;

namespace Wharf.Core.Accounts;

/// <summary>What counting one failed login decided.</summary>
/// <param name="LimitReached">This failure made the user at this address reach <see cref="AuthOptions.MaxFailedLogins"/> (worth one audit record).</param>
/// <param name="Delay">How long to hold this failing answer: non-zero when the address or the user name keeps failing.</param>
/// <param name="RetryAfter">When to try again, for a slowed answer (429) or a limit just reached.</param>
public readonly record struct FailedLogin(bool LimitReached, TimeSpan Delay, TimeSpan? RetryAfter);

/// <summary>
/// Failed-login limits that cannot lock anyone else out. Failures are counted in fixed windows of
/// <see cref="AuthOptions.FailedLoginWindow"/>:
/// <list type="bullet">
/// <item>per user name and client address: after <see cref="AuthOptions.MaxFailedLogins"/>, that user at that address
/// waits (<see cref="RetryAfter"/>), without the credential being checked;</item>
/// <item>per address and per user name alone: after <see cref="AuthOptions.MaxFailedLoginsPerAddress"/> or
/// <see cref="AuthOptions.MaxFailedLoginsPerUser"/>, further <em>failing</em> attempts are slowed
/// (<see cref="FailedLogin.Delay"/>); a correct credential is never refused by these two.</item>
/// </list>
/// So a correct password from a user who has not failed at that address always signs in. The counters live in memory
/// on each node; <see cref="Unlock"/> clears this node's at once, and other nodes forget failures older than the
/// user's <see cref="UserAccount.LoginsUnlockedAt"/> when they next look (see <c>CredentialAuthenticator</c>).
/// Every sign-in surface (Basic auth, the token endpoint, the web sign-in form) goes through one instance.
/// </summary>
public sealed class LoginRateLimiter(AuthOptions options, TimeProvider time)
{
    /// <summary>Windows kept at most (three per failure); expired ones are dropped first when the bound is reached.</summary>
    public const int MaxWindows = 300_000;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    private sealed class Window(long start)
    {
        public long Start = start;
        public int Failures;
    }

    private long WindowMs => (long)options.FailedLoginWindow.TotalMilliseconds;

    /// <summary>
    /// Before a credential is checked: how long <paramref name="username"/> must wait at <paramref name="clientAddress"/>,
    /// or null when they may try. Failures counted before <paramref name="unlockedAt"/> are forgotten.
    /// </summary>
    public TimeSpan? RetryAfter(string? username, string? clientAddress, DateTimeOffset? unlockedAt = null)
    {
        var key = PairKey(username, clientAddress);
        if (!_windows.TryGetValue(key, out var window)) return null;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (window)
        {
            if (unlockedAt is { } at && window.Start < at.ToUnixTimeMilliseconds())
            {
                window.Start = now;
                window.Failures = 0;
                return null;
            }
            var end = window.Start + WindowMs;
            if (now >= end || window.Failures < options.MaxFailedLogins) return null;
            return TimeSpan.FromMilliseconds(end - now);
        }
    }

    /// <summary>Counts a failed check of a credential for <paramref name="username"/> (null: a bearer token of unknown owner) from <paramref name="clientAddress"/>.</summary>
    public FailedLogin RecordFailure(string? username, string? clientAddress, DateTimeOffset? unlockedAt = null)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_windows.Count >= MaxWindows) Prune(now);
        var (pair, pairStart) = Count(PairKey(username, clientAddress), now, unlockedAt);
        var limitReached = pair == options.MaxFailedLogins;
        var slow = false;
        var until = pairStart + WindowMs;
        if (clientAddress is not null)
        {
            var (failures, start) = Count("a:" + clientAddress, now, null);
            if (failures > options.MaxFailedLoginsPerAddress) { slow = true; until = Math.Max(until, start + WindowMs); }
        }
        if (username is not null)
        {
            var (failures, start) = Count("u:" + username, now, unlockedAt);
            if (failures > options.MaxFailedLoginsPerUser) { slow = true; until = Math.Max(until, start + WindowMs); }
        }
        var retryAfter = slow || pair >= options.MaxFailedLogins ? TimeSpan.FromMilliseconds(Math.Max(1000, until - now)) : (TimeSpan?)null;
        return new FailedLogin(limitReached, slow ? options.FailedLoginDelay : TimeSpan.Zero, retryAfter);
    }

    /// <summary>Clears every failed-login count of <paramref name="username"/> on this node, from every address.</summary>
    public void Unlock(string username)
    {
        var prefix = "p:" + username + "\n";
        foreach (var key in _windows.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal)) _windows.TryRemove(key, out _);
        }
        _windows.TryRemove("u:" + username, out _);
    }

    /// <summary>The user names that wait at some address now (on this node).</summary>
    public IReadOnlySet<string> LockedUsers()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var locked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, window) in _windows)
        {
            if (!key.StartsWith("p:", StringComparison.Ordinal)) continue;
            var newline = key.IndexOf('\n', StringComparison.Ordinal);
            if (newline <= 2) continue;
            lock (window)
            {
                if (window.Failures >= options.MaxFailedLogins && now < window.Start + WindowMs) locked.Add(key[2..newline]);
            }
        }
        return locked;
    }

    private static string PairKey(string? username, string? clientAddress) => "p:" + username + "\n" + clientAddress;

    private (int Failures, long Start) Count(string key, long now, DateTimeOffset? unlockedAt)
    {
        var window = _windows.GetOrAdd(key, _ => new Window(now));
        lock (window)
        {
            if (now >= window.Start + WindowMs || (unlockedAt is { } at && window.Start < at.ToUnixTimeMilliseconds()))
            {
                window.Start = now;
                window.Failures = 0;
            }
            window.Failures++;
            return (window.Failures, window.Start);
        }
    }

    private void Prune(long now)
    {
        foreach (var (key, window) in _windows)
        {
            bool expired;
            lock (window) expired = now >= window.Start + WindowMs;
            if (expired) _windows.TryRemove(key, out _);
        }
        // Still full within one window: someone is generating names or addresses faster than windows expire. Forgetting
        // is the only bounded answer; the per-address slowdown has already been paying them back.
        if (_windows.Count >= MaxWindows) _windows.Clear();
    }
}
