namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The arithmetic both limiters share. Per-minute limits are token buckets: a full bucket holds the
/// limit and refills continuously at limit/60 per second, so a burst never exceeds the limit and
/// there is no window edge that admits twice the limit. The Redis script mirrors these rules.
/// </summary>
internal static class LimitMath
{
    public const double WindowMs = 60_000;

    public static double Refill(double level, long elapsedMs, long limit) =>
        Math.Min(limit, level + (Math.Max(0, elapsedMs) * (double)limit / WindowMs));

    /// <summary>How long until <paramref name="needed"/> is available again; zero when it already is.</summary>
    public static TimeSpan TimeToRefill(double available, double needed, long limit)
    {
        if (limit <= 0 || available >= needed)
        {
            return TimeSpan.Zero;
        }

        return TimeSpan.FromMilliseconds(Math.Ceiling((needed - available) * WindowMs / limit));
    }

    /// <summary>The first limit of a scope that refuses <paramref name="tokens"/>; the order is part of the contract.</summary>
    public static LimitOutcome Check(LimitSet limits, ScopeState state, long tokens)
    {
        if (limits.MonthlyTokens > 0 && state.QuotaUsed + tokens > limits.MonthlyTokens)
        {
            return LimitOutcome.MonthlyQuota;
        }

        if (limits.TokensPerMinute > 0 && tokens > limits.TokensPerMinute)
        {
            return LimitOutcome.RequestTooLarge;
        }

        if (limits.RequestsPerMinute > 0 && state.RequestsAvailable < 1)
        {
            return LimitOutcome.RequestsPerMinute;
        }

        if (limits.TokensPerMinute > 0 && state.TokensAvailable < tokens)
        {
            return LimitOutcome.TokensPerMinute;
        }

        if (limits.ConcurrentRequests > 0 && state.Concurrent >= limits.ConcurrentRequests)
        {
            return LimitOutcome.ConcurrentRequests;
        }

        return LimitOutcome.Admitted;
    }

    /// <summary>When a refused request could succeed; for the quota, the start of the next period.</summary>
    public static TimeSpan RetryAfter(LimitOutcome outcome, LimitSet limits, ScopeState state, long tokens, QuotaPeriod period, DateTimeOffset now) => outcome switch
    {
        LimitOutcome.MonthlyQuota => period.End - now,
        LimitOutcome.RequestsPerMinute => TimeToRefill(state.RequestsAvailable, 1, limits.RequestsPerMinute),
        LimitOutcome.TokensPerMinute => TimeToRefill(state.TokensAvailable, tokens, limits.TokensPerMinute),
        // A slot frees when some request ends; one second is the honest guess.
        LimitOutcome.ConcurrentRequests => TimeSpan.FromSeconds(1),
        LimitOutcome.Unavailable => TimeSpan.FromSeconds(5),
        _ => TimeSpan.Zero,
    };
}
