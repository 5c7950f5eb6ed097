namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>One scope's limits; 0 means the limit does not apply.</summary>
internal readonly record struct LimitSet(long RequestsPerMinute, long TokensPerMinute, long ConcurrentRequests, long MonthlyTokens)
{
    public bool IsEmpty => RequestsPerMinute == 0 && TokensPerMinute == 0 && ConcurrentRequests == 0 && MonthlyTokens == 0;
}

/// <summary>
/// The counters one set of limits applies to: the account (every key of a user) or a single key.
/// <paramref name="StoreKey"/> names the counters in the limiter's store; both scopes of one user
/// share the user's hash tag so a Redis cluster keeps them in one slot.
/// </summary>
internal sealed record LimitScope(string Name, string StoreKey, LimitSet Limits, long QuotaUsedSeed)
{
    public static string AccountKey(Guid userId) => "{u:" + userId.ToString("N") + "}";

    public static string KeyKey(Guid userId, Guid keyId) => AccountKey(userId) + ":k:" + keyId.ToString("N");
}

/// <summary>The monthly quota period a request falls in: [Start, End).</summary>
internal readonly record struct QuotaPeriod(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>Calendar months in UTC until billing periods drive it.</summary>
    public static QuotaPeriod CalendarMonth(DateTimeOffset now)
    {
        var start = new DateTimeOffset(now.UtcDateTime.Year, now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return new QuotaPeriod(start, start.AddMonths(1));
    }

    /// <summary>A stable name for counters of this period, e.g. <c>202611</c>.</summary>
    public string Name => Start.ToString("yyyyMM", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Everything the limiter needs about a key, resolved from the database and cached in memory.</summary>
internal sealed record LimitPolicy(LimitScope Account, LimitScope? Key, QuotaPeriod Period);
