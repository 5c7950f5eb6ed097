using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>Section <c>LoginThrottle</c>.</summary>
internal sealed class LoginThrottleOptions
{
    public const string Section = "LoginThrottle";

    /// <summary>Failures for one account within the window before it is refused.</summary>
    public int AccountLimit { get; set; } = 5;

    /// <summary>Failures from one IP within the window before it is refused (higher: offices share addresses).</summary>
    public int IpLimit { get; set; } = 20;

    /// <summary>Failures after which each further failed attempt is answered slowly.</summary>
    public int SlowAfter { get; set; } = 3;

    public int SlowDelayMilliseconds { get; set; } = 1000;

    public int WindowMinutes { get; set; } = 15;
}

/// <summary>
/// Slows, then refuses, repeated failed logins per account and per IP. A success clears the
/// account's count; the IP's count only ages out, so an attacker cannot reset it by signing in
/// to an account of their own between guesses. Per instance for now.
/// </summary>
internal sealed class LoginThrottle(IOptions<LoginThrottleOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    private LoginThrottleOptions Settings => options.Value;

    /// <returns>When the caller is refused, how long until it may try again.</returns>
    public TimeSpan? RetryAfter(string? email, string? ip)
    {
        var now = time.GetUtcNow();
        var account = Remaining(AccountKey(email), Settings.AccountLimit, now);
        var address = Remaining(IpKey(ip), Settings.IpLimit, now);
        return (account, address) switch
        {
            (null, var a) => a,
            (var a, null) => a,
            var (a, b) => a > b ? a : b,
        };
    }

    /// <returns>How long to hold the failed response back.</returns>
    public TimeSpan RecordFailure(string? email, string? ip)
    {
        var now = time.GetUtcNow();
        var failures = Math.Max(Increment(AccountKey(email), now), Increment(IpKey(ip), now));
        Prune(now);
        return failures > Settings.SlowAfter ? TimeSpan.FromMilliseconds(Settings.SlowDelayMilliseconds) : TimeSpan.Zero;
    }

    public void RecordSuccess(string email) => _counters.TryRemove(AccountKey(email)!, out _);

    private static string? AccountKey(string? email) => email is null ? null : "a:" + email;

    private static string? IpKey(string? ip) => ip is null ? null : "i:" + ip;

    private TimeSpan? Remaining(string? key, int limit, DateTimeOffset now)
    {
        if (key is null || !_counters.TryGetValue(key, out var counter))
        {
            return null;
        }

        lock (counter)
        {
            var end = counter.WindowStart.AddMinutes(Settings.WindowMinutes);
            return counter.Failures >= limit && end > now ? end - now : null;
        }
    }

    private int Increment(string? key, DateTimeOffset now)
    {
        if (key is null)
        {
            return 0;
        }

        var counter = _counters.GetOrAdd(key, _ => new Counter { WindowStart = now });
        lock (counter)
        {
            if (counter.WindowStart.AddMinutes(Settings.WindowMinutes) <= now)
            {
                counter.WindowStart = now;
                counter.Failures = 0;
            }

            return ++counter.Failures;
        }
    }

    /// <summary>Bounded memory under a spray of addresses: drop windows that have ended.</summary>
    private void Prune(DateTimeOffset now)
    {
        if (_counters.Count < 10_000)
        {
            return;
        }

        foreach (var (key, counter) in _counters)
        {
            if (counter.WindowStart.AddMinutes(Settings.WindowMinutes) <= now)
            {
                _counters.TryRemove(key, out _);
            }
        }
    }

    private sealed class Counter
    {
        public DateTimeOffset WindowStart { get; set; }

        public int Failures { get; set; }
    }
}
