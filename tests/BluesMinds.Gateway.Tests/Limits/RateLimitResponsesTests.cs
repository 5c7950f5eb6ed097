using System.Globalization;
using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.AspNetCore.Http;
using static BluesMinds.Gateway.Tests.Limits.Policies;

namespace BluesMinds.Gateway.Tests.Limits;

public sealed class RateLimitResponsesTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);

    // ---- Duration: OpenAI's format ----

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(-1L, "0s")]
    [InlineData(-90_000L, "0s")]
    [InlineData(1L, "1ms")]
    [InlineData(60L, "60ms")]
    [InlineData(250L, "250ms")]
    [InlineData(999L, "999ms")]
    [InlineData(1_000L, "1s")]
    [InlineData(1_500L, "1.5s")]
    [InlineData(6_000L, "6s")]
    [InlineData(8_572L, "8.572s")]
    [InlineData(30_060L, "30.06s")]
    [InlineData(59_999L, "59.999s")]
    [InlineData(60_000L, "1m0s")]
    [InlineData(61_000L, "1m1s")]
    [InlineData(90_500L, "1m30.5s")]
    [InlineData(3_599_999L, "59m59.999s")]
    [InlineData(3_600_000L, "1h0m0s")]
    [InlineData(7_200_000L, "2h0m0s")]
    [InlineData(7_201_000L, "2h0m1s")]
    [InlineData(7_260_000L, "2h1m0s")]
    [InlineData(93_600_000L, "26h0m0s")]
    public void Duration_WholeMilliseconds(long milliseconds, string expected)
    {
        Assert.Equal(expected, RateLimitResponses.Duration(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void Duration_QuotaResetInDays_IsInHours()
    {
        // The monthly quota's Retry-After: 21 days 12 hours.
        Assert.Equal("516h0m0s", RateLimitResponses.Duration(new TimeSpan(21, 12, 0, 0)));
        Assert.Equal("516h0m0.5s", RateLimitResponses.Duration(new TimeSpan(21, 12, 0, 0, 500)));
    }

    [Theory]
    [InlineData(1L, "1ms")]
    [InlineData(5_000L, "1ms")]
    [InlineData(10_001L, "2ms")]
    [InlineData(2_500_000L, "250ms")]
    [InlineData(2_500_001L, "251ms")]
    public void Duration_BelowOneSecond_RoundsUpToTheMillisecond(long ticks, string expected)
    {
        Assert.Equal(expected, RateLimitResponses.Duration(TimeSpan.FromTicks(ticks)));
    }

    /// <summary>
    /// Every retry time the limiters compute is a whole number of milliseconds, and each one must be
    /// written as itself. <c>Duration</c> rounds the seconds with
    /// <c>Math.Ceiling((Seconds + Milliseconds / 1000.0) * 1000) / 1000</c>: the binary product is
    /// often a hair above the integer (1.132 * 1000 = 1132.0000000000002), so Ceiling adds a
    /// millisecond that is not there: 1132 ms is written "1.133s". 590 of the 59,000 values from
    /// 1 s to 59.999 s are off by one millisecond.
    /// </summary>
    [Fact]
    public void Duration_EveryWholeMillisecondFromOneSecondToOneMinute_IsWrittenExactly()
    {
        var wrong = new List<string>();
        for (var ms = 1_000L; ms < 60_000; ms++)
        {
            var expected = (ms / 1000m).ToString("0.###", CultureInfo.InvariantCulture) + "s";
            var actual = RateLimitResponses.Duration(TimeSpan.FromMilliseconds(ms));
            if (actual != expected)
            {
                wrong.Add($"{ms} ms -> {actual}");
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} durations are off, e.g. {string.Join(", ", wrong.Take(5))}");
    }

    [Fact]
    public void Duration_OneSecondAndOneHundredThirtyTwoMilliseconds_IsNotRoundedUp()
    {
        Assert.Equal("1.132s", RateLimitResponses.Duration(TimeSpan.FromMilliseconds(1132)));
        Assert.Equal("1m1.132s", RateLimitResponses.Duration(TimeSpan.FromMilliseconds(61_132)));
    }

    // ---- headers ----

    [Fact]
    public void ApplyHeaders_WritesOpenAisRateLimitHeaders()
    {
        var headers = new HeaderDictionary();

        RateLimitResponses.ApplyHeaders(headers, new RateLimitSnapshot(60, 59, TimeSpan.FromSeconds(1), 150_000, 149_000, TimeSpan.FromMilliseconds(400)));

        Assert.Equal("60", headers["x-ratelimit-limit-requests"]);
        Assert.Equal("59", headers["x-ratelimit-remaining-requests"]);
        Assert.Equal("1s", headers["x-ratelimit-reset-requests"]);
        Assert.Equal("150000", headers["x-ratelimit-limit-tokens"]);
        Assert.Equal("149000", headers["x-ratelimit-remaining-tokens"]);
        Assert.Equal("400ms", headers["x-ratelimit-reset-tokens"]);
        Assert.Equal(6, headers.Count);
    }

    [Fact]
    public void ApplyHeaders_NoLimit_WritesNoHeadersForThatDimension()
    {
        var headers = new HeaderDictionary();

        RateLimitResponses.ApplyHeaders(headers, new RateLimitSnapshot(0, 0, TimeSpan.Zero, 1000, 10, TimeSpan.FromSeconds(59.4)));
        Assert.Equal(["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"], headers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("59.4s", headers["x-ratelimit-reset-tokens"]);

        headers.Clear();
        RateLimitResponses.ApplyHeaders(headers, default);
        Assert.Empty(headers);
    }

    // ---- snapshot ----

    [Fact]
    public void SnapshotFrom_AccountOnly_ReportsTheAccount()
    {
        var policy = For(Now, Account(new LimitSet(60, 1000, 0, 0)));

        var snapshot = RateLimitSnapshot.From(policy, new ScopeState(59.5, 250.5, 0, 0), null);

        // Remaining is floored; reset is the time until the bucket is full again.
        Assert.Equal(new RateLimitSnapshot(60, 59, TimeSpan.FromMilliseconds(500), 1000, 250, TimeSpan.FromMilliseconds(44_970)), snapshot);
    }

    [Fact]
    public void SnapshotFrom_PicksTheScopeWithLessRemainingPerDimension()
    {
        var policy = For(Now, Account(new LimitSet(100, 1000, 0, 0)), Key(new LimitSet(10, 5000, 0, 0)));

        var snapshot = RateLimitSnapshot.From(policy, new ScopeState(99, 950, 0, 0), new ScopeState(9, 4950, 0, 0));

        Assert.Equal(new RateLimitSnapshot(10, 9, TimeSpan.FromSeconds(6), 1000, 950, TimeSpan.FromSeconds(3)), snapshot);
    }

    [Fact]
    public void SnapshotFrom_UnlimitedAccountDimension_ReportsTheKeysLimit()
    {
        var policy = For(Now, Account(new LimitSet(0, 0, 0, 0)), Key(new LimitSet(0, 500, 0, 0)));

        var snapshot = RateLimitSnapshot.From(policy, new ScopeState(0, 0, 0, 0), new ScopeState(0, 499, 0, 0));

        Assert.Equal(new RateLimitSnapshot(0, 0, TimeSpan.Zero, 500, 499, TimeSpan.FromMilliseconds(120)), snapshot);
    }

    [Fact]
    public void SnapshotFrom_NegativeLevels_ReportZeroRemaining()
    {
        var policy = For(Now, Account(new LimitSet(10, 1000, 0, 0)));

        var snapshot = RateLimitSnapshot.From(policy, new ScopeState(-0.5, -500, 0, 0), null);

        Assert.Equal(0, snapshot.RequestsRemaining);
        Assert.Equal(0, snapshot.TokensRemaining);
        Assert.Equal(TimeSpan.FromSeconds(63), snapshot.RequestsReset);
        Assert.Equal(TimeSpan.FromSeconds(90), snapshot.TokensReset);
    }

    [Fact]
    public void ApplyHeaders_LimitsThatChangeBetweenResponses_AreWrittenAsTheyAreNow()
    {
        // The limit's text is reused while it stays the same; a changed plan must show at once.
        foreach (var (requests, tokens) in new[] { (60L, 150_000L), (60L, 150_000L), (5000L, 2_000_000L), (60L, 150_000L) })
        {
            var headers = new HeaderDictionary();
            RateLimitResponses.ApplyHeaders(headers, new RateLimitSnapshot(requests, requests - 1, TimeSpan.FromSeconds(1), tokens, tokens - 10, TimeSpan.FromSeconds(2)));

            Assert.Equal(requests.ToString(System.Globalization.CultureInfo.InvariantCulture), headers["x-ratelimit-limit-requests"].ToString());
            Assert.Equal((requests - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), headers["x-ratelimit-remaining-requests"].ToString());
            Assert.Equal(tokens.ToString(System.Globalization.CultureInfo.InvariantCulture), headers["x-ratelimit-limit-tokens"].ToString());
        }
    }

    [Fact]
    public void Duration_TheLongestTimeSpan_FitsAndIsInHours()
    {
        Assert.Equal("256204778h48m5.478s", RateLimitResponses.Duration(TimeSpan.MaxValue));
    }
}
