using BluesMinds.Gateway.Proxy.Limits;

namespace BluesMinds.Gateway.Tests.Limits;

public sealed class LimitMathTests
{
    private static readonly LimitSet All = new(RequestsPerMinute: 10, TokensPerMinute: 100, ConcurrentRequests: 1, MonthlyTokens: 1000);
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);

    // ---- Refill ----

    [Theory]
    [InlineData(0.0, 15_000L, 4L, 1.0)]
    [InlineData(0.0, 60_000L, 4L, 4.0)]
    [InlineData(0.0, 1L, 60_000L, 1.0)]
    [InlineData(2.5, 7_500L, 4L, 3.0)]
    [InlineData(3.5, 600_000L, 4L, 4.0)]
    [InlineData(4.0, 1_000L, 4L, 4.0)]
    [InlineData(1.0, 0L, 4L, 1.0)]
    [InlineData(-500.0, 30_000L, 1000L, 0.0)]
    [InlineData(-500.0, 120_000L, 1000L, 1000.0)]
    public void Refill_AddsLimitPerMinuteProRataAndCapsAtTheLimit(double level, long elapsedMs, long limit, double expected)
    {
        Assert.Equal(expected, LimitMath.Refill(level, elapsedMs, limit), 9);
    }

    [Fact]
    public void Refill_ClockGoingBackwards_AddsNothing()
    {
        Assert.Equal(1.5, LimitMath.Refill(1.5, -5_000, 4));
        Assert.Equal(-3.0, LimitMath.Refill(-3.0, long.MinValue / 2, 4));
    }

    // ---- TimeToRefill ----

    [Theory]
    [InlineData(0.0, 1.0, 4L, 15_000)]
    [InlineData(0.0, 1.0, 7L, 8_572)]
    [InlineData(0.0, 1.0, 60L, 1_000)]
    [InlineData(0.0, 1.0, 1000L, 60)]
    [InlineData(0.0, 1.0, 60_000L, 1)]
    [InlineData(0.0, 1.0, 120_000L, 1)]
    [InlineData(0.5, 1.0, 60L, 500)]
    [InlineData(400.0, 500.0, 1000L, 6_000)]
    [InlineData(-500.0, 1.0, 1000L, 30_060)]
    [InlineData(0.0, 4.0, 4L, 60_000)]
    public void TimeToRefill_IsTheMissingAmountAtLimitPerMinuteRoundedUpToTheMillisecond(double available, double needed, long limit, long expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), LimitMath.TimeToRefill(available, needed, limit));
    }

    [Theory]
    [InlineData(1.0, 1.0, 4L)]
    [InlineData(5.0, 1.0, 4L)]
    [InlineData(0.0, 1.0, 0L)]
    [InlineData(-100.0, 1.0, 0L)]
    [InlineData(0.0, 0.0, 10L)]
    public void TimeToRefill_AlreadyAvailableOrNoLimit_IsZero(double available, double needed, long limit)
    {
        Assert.Equal(TimeSpan.Zero, LimitMath.TimeToRefill(available, needed, limit));
    }

    [Fact]
    public void TimeToRefill_WaitingExactlyThatLong_IsAlwaysEnoughAndOneMillisecondLessIsNot()
    {
        var wrong = new List<string>();
        foreach (var limit in Enumerable.Range(1, 5000).Select(i => (long)i).Concat([9_999, 60_000, 100_000, 1_000_000]))
        {
            var wait = (long)LimitMath.TimeToRefill(0, 1, limit).TotalMilliseconds;
            if (LimitMath.Refill(0, wait, limit) < 1 || (limit <= 60_000 && LimitMath.Refill(0, wait - 1, limit) >= 1))
            {
                wrong.Add($"{limit}/min: {wait} ms");
            }
        }

        Assert.Empty(wrong);
    }

    // ---- Check: the order is part of the contract ----

    [Theory]
    // Everything is exceeded: the quota wins.
    [InlineData(0.0, 0.0, 1L, 950L, 160L, "MonthlyQuota")]
    // The quota fits; the request is larger than the per-minute limit.
    [InlineData(0.0, 0.0, 1L, 0L, 101L, "RequestTooLarge")]
    [InlineData(0.999, 0.0, 1L, 0L, 50L, "RequestsPerMinute")]
    [InlineData(1.0, 49.9, 1L, 0L, 50L, "TokensPerMinute")]
    [InlineData(1.0, 50.0, 1L, 0L, 50L, "ConcurrentRequests")]
    [InlineData(1.0, 50.0, 0L, 950L, 50L, "Admitted")]
    // Boundaries: exactly the quota, exactly the per-minute limit, exactly one request left.
    [InlineData(1.0, 100.0, 0L, 900L, 100L, "Admitted")]
    [InlineData(1.0, 100.0, 0L, 901L, 100L, "MonthlyQuota")]
    public void Check_RefusesWithTheFirstLimitInContractOrder(double requests, double tokensAvailable, long concurrent, long quotaUsed, long tokens, string expected)
    {
        var state = new ScopeState(requests, tokensAvailable, concurrent, quotaUsed);

        Assert.Equal(Enum.Parse<LimitOutcome>(expected), LimitMath.Check(All, state, tokens));
    }

    [Fact]
    public void Check_ZeroLimits_NeverRefuse()
    {
        var exhausted = new ScopeState(RequestsAvailable: -10, TokensAvailable: -10, Concurrent: long.MaxValue, QuotaUsed: long.MaxValue / 2);

        Assert.Equal(LimitOutcome.Admitted, LimitMath.Check(default, exhausted, long.MaxValue / 4));
    }

    // ---- RetryAfter ----

    [Fact]
    public void RetryAfter_MapsEachOutcome()
    {
        var period = QuotaPeriod.CalendarMonth(Now);
        var state = new ScopeState(RequestsAvailable: 0.5, TokensAvailable: 40, Concurrent: 1, QuotaUsed: 1000);

        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero) - Now, LimitMath.RetryAfter(LimitOutcome.MonthlyQuota, All, state, 50, period, Now));
        // Half a request missing at 10 per minute: 3 s; 10 tokens missing at 100 per minute: 6 s.
        Assert.Equal(TimeSpan.FromSeconds(3), LimitMath.RetryAfter(LimitOutcome.RequestsPerMinute, All, state, 50, period, Now));
        Assert.Equal(TimeSpan.FromSeconds(6), LimitMath.RetryAfter(LimitOutcome.TokensPerMinute, All, state, 50, period, Now));
        Assert.Equal(TimeSpan.FromSeconds(1), LimitMath.RetryAfter(LimitOutcome.ConcurrentRequests, All, state, 50, period, Now));
        Assert.Equal(TimeSpan.FromSeconds(5), LimitMath.RetryAfter(LimitOutcome.Unavailable, All, state, 50, period, Now));
        Assert.Equal(TimeSpan.Zero, LimitMath.RetryAfter(LimitOutcome.RequestTooLarge, All, state, 500, period, Now));
        Assert.Equal(TimeSpan.Zero, LimitMath.RetryAfter(LimitOutcome.Admitted, All, state, 50, period, Now));
    }

    // ---- QuotaPeriod ----

    [Theory]
    [InlineData("2026-03-10T12:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "202603")]
    [InlineData("2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "202603")]
    [InlineData("2026-03-31T23:59:59.9999999Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "202603")]
    [InlineData("2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", "202612")]
    [InlineData("2028-02-29T08:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z", "202802")]
    // 22:00 in New York on 31 March is 02:00 UTC on 1 April: the period is April's.
    [InlineData("2026-03-31T22:00:00-04:00", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", "202604")]
    // 01:00 in Paris on 1 April is 23:00 UTC on 31 March: still March.
    [InlineData("2026-04-01T01:00:00+02:00", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "202603")]
    public void CalendarMonth_IsTheUtcMonth(string now, string start, string end, string name)
    {
        var period = QuotaPeriod.CalendarMonth(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), period.Start);
        Assert.Equal(DateTimeOffset.Parse(end, System.Globalization.CultureInfo.InvariantCulture), period.End);
        Assert.Equal(TimeSpan.Zero, period.Start.Offset);
        Assert.Equal(name, period.Name);
    }

    [Fact]
    public void StoreKeys_ShareTheUsersHashTag()
    {
        var user = Guid.Parse("6f1c2a1e-0d4b-4e53-9a55-6a2f3f0c1b01");
        var key = Guid.Parse("0b7d9e44-51a3-4c1e-8d7f-2f6b9f1a9c02");

        Assert.Equal("{u:6f1c2a1e0d4b4e539a556a2f3f0c1b01}", LimitScope.AccountKey(user));
        Assert.Equal("{u:6f1c2a1e0d4b4e539a556a2f3f0c1b01}:k:0b7d9e4451a34c1e8d7f2f6b9f1a9c02", LimitScope.KeyKey(user, key));
    }
}
