using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.Extensions.Time.Testing;
using static BluesMinds.Gateway.Tests.Limits.Policies;

namespace BluesMinds.Gateway.Tests.Limits;

public sealed class InProcessRateLimiterTests
{
    /// <summary>2026-03-10 12:00 UTC: the quota period is March, ending 2026-04-01 00:00 UTC.</summary>
    private static readonly DateTimeOffset Start = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset MarchEnd = new(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly InProcessRateLimiter _limiter;
    private int _leases;

    public InProcessRateLimiterTests() => _limiter = new InProcessRateLimiter(_time);

    private LimitPolicy Policy(LimitSet account, LimitSet? key = null, long accountSeed = 0, long keySeed = 0) =>
        For(_time.GetUtcNow(), Account(account, accountSeed), key is { } k ? Key(k, keySeed) : null);

    private async Task<LimitDecision> AcquireAsync(LimitPolicy policy, long tokens) =>
        await _limiter.AcquireAsync(policy, tokens, "lease-" + Interlocked.Increment(ref _leases));

    private async Task<LimitDecision> AdmittedAsync(LimitPolicy policy, long tokens)
    {
        var decision = await AcquireAsync(policy, tokens);
        Assert.Equal(LimitOutcome.Admitted, decision.Outcome);
        Assert.True(decision.Admitted);
        Assert.NotNull(decision.Lease);
        Assert.Null(decision.RefusedBy);
        Assert.Equal(TimeSpan.Zero, decision.RetryAfter);
        return decision;
    }

    private async Task<LimitDecision> RefusedAsync(LimitPolicy policy, long tokens, LimitOutcome outcome)
    {
        var decision = await AcquireAsync(policy, tokens);
        Assert.Equal(outcome, decision.Outcome);
        Assert.False(decision.Admitted);
        Assert.Null(decision.Lease);
        Assert.NotNull(decision.RefusedBy);
        Assert.Equal(tokens, decision.RequestedTokens);
        return decision;
    }

    private async Task<RateLimitSnapshot> PeekAsync(LimitPolicy policy)
    {
        var snapshot = await _limiter.PeekAsync(policy);
        Assert.NotNull(snapshot);
        return snapshot.Value;
    }

    // ---- requests per minute ----

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(60)]
    [InlineData(1000)]
    public async Task AcquireAsync_RequestsPerMinute_AdmitsTheLimitThenRefusesWithRetryAfterOfOneRefill(int limit)
    {
        var policy = Policy(Rpm(limit));

        for (var i = 0; i < limit; i++)
        {
            var admitted = await AdmittedAsync(policy, 10);
            Assert.Equal(limit - i - 1, admitted.Snapshot!.Value.RequestsRemaining);
        }

        var refused = await RefusedAsync(policy, 10, LimitOutcome.RequestsPerMinute);
        Assert.Same(policy.Account, refused.RefusedBy);
        // One request refills in 60/N seconds, rounded up to the millisecond.
        Assert.Equal(TimeSpan.FromMilliseconds(Math.Ceiling(60_000.0 / limit)), refused.RetryAfter);
        Assert.Equal(0, refused.Snapshot!.Value.RequestsRemaining);
        Assert.Equal(limit, refused.Snapshot.Value.RequestLimit);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(60)]
    public async Task AcquireAsync_RequestsPerMinute_RefillsContinuouslyOneRequestPerRetryAfter(int limit)
    {
        var policy = Policy(Rpm(limit));
        for (var i = 0; i < limit; i++)
        {
            await AdmittedAsync(policy, 1);
        }

        var retry = (await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute)).RetryAfter;

        _time.Advance(retry - TimeSpan.FromMilliseconds(1));
        await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await AdmittedAsync(policy, 1);
        await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);
    }

    [Fact]
    public async Task AcquireAsync_RequestsPerMinute_FourPerMinuteRefillsOneEveryFifteenSeconds()
    {
        var policy = Policy(Rpm(4));
        for (var i = 0; i < 4; i++)
        {
            await AdmittedAsync(policy, 1);
        }

        Assert.Equal(TimeSpan.FromSeconds(15), (await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute)).RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(7.5));
        var half = await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);
        Assert.Equal(TimeSpan.FromSeconds(7.5), half.RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(7.5));
        await AdmittedAsync(policy, 1);

        _time.Advance(TimeSpan.FromSeconds(30));
        await AdmittedAsync(policy, 1);
        await AdmittedAsync(policy, 1);
        await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);
    }

    [Fact]
    public async Task AcquireAsync_RequestsPerMinute_LongIdleRefillsOnlyUpToTheLimit()
    {
        var policy = Policy(Rpm(3));
        await AdmittedAsync(policy, 1);

        _time.Advance(TimeSpan.FromHours(5));

        for (var i = 0; i < 3; i++)
        {
            await AdmittedAsync(policy, 1);
        }

        await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);
    }

    [Fact]
    public async Task PeekAsync_ConsumesNothing()
    {
        var policy = Policy(new LimitSet(2, 100, 0, 100));

        for (var i = 0; i < 10; i++)
        {
            var snapshot = await PeekAsync(policy);
            Assert.Equal(new RateLimitSnapshot(2, 2, TimeSpan.Zero, 100, 100, TimeSpan.Zero), snapshot);
        }

        await AdmittedAsync(policy, 50);
        await AdmittedAsync(policy, 50);
        await RefusedAsync(policy, 0, LimitOutcome.RequestsPerMinute);
    }

    // ---- tokens per minute ----

    [Fact]
    public async Task AcquireAsync_TokensPerMinute_ReservationLargerThanWhatRemains_IsRefused()
    {
        var policy = Policy(Tpm(1000));
        var first = await AdmittedAsync(policy, 600);
        Assert.Equal(400, first.Snapshot!.Value.TokensRemaining);

        var refused = await RefusedAsync(policy, 500, LimitOutcome.TokensPerMinute);
        Assert.Same(policy.Account, refused.RefusedBy);
        // 100 tokens missing at 1000 per minute: 6 seconds.
        Assert.Equal(TimeSpan.FromSeconds(6), refused.RetryAfter);

        // A refusal reserves nothing: exactly what remains still fits.
        await AdmittedAsync(policy, 400);
        Assert.Equal(TimeSpan.FromMilliseconds(60), (await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute)).RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(6));
        await AdmittedAsync(policy, 100);
        await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute);
    }

    [Fact]
    public async Task AcquireAsync_ReservationAboveTheTokensPerMinuteLimit_IsRequestTooLargeWithoutRetryAfter()
    {
        var policy = Policy(Tpm(1000));

        var refused = await RefusedAsync(policy, 1001, LimitOutcome.RequestTooLarge);

        Assert.Same(policy.Account, refused.RefusedBy);
        Assert.Equal(TimeSpan.Zero, refused.RetryAfter);
        await AdmittedAsync(policy, 1000);
    }

    [Fact]
    public async Task AcquireAsync_RequestTooLarge_IsReportedBeforeAnExhaustedRequestsPerMinute()
    {
        var policy = Policy(new LimitSet(1, 1000, 0, 0));
        await AdmittedAsync(policy, 10);

        await RefusedAsync(policy, 1001, LimitOutcome.RequestTooLarge);
        await RefusedAsync(policy, 10, LimitOutcome.RequestsPerMinute);
    }

    [Fact]
    public async Task AcquireAsync_MonthlyQuota_IsReportedBeforeRequestTooLarge()
    {
        var policy = Policy(new LimitSet(0, 100, 0, 500));

        await RefusedAsync(policy, 600, LimitOutcome.MonthlyQuota);
        await RefusedAsync(policy, 400, LimitOutcome.RequestTooLarge);
    }

    // ---- concurrency ----

    [Fact]
    public async Task AcquireAsync_ConcurrencyLimit_RefusesWhileLeasesAreHeldAndSettlingFreesASlot()
    {
        var policy = Policy(Concurrent(2));
        var first = await AdmittedAsync(policy, 10);
        var second = await AdmittedAsync(policy, 10);

        var refused = await RefusedAsync(policy, 10, LimitOutcome.ConcurrentRequests);
        Assert.Same(policy.Account, refused.RefusedBy);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);

        // Time alone frees no slot.
        _time.Advance(TimeSpan.FromMinutes(10));
        await RefusedAsync(policy, 10, LimitOutcome.ConcurrentRequests);

        await _limiter.SettleAsync(first.Lease!, 10);
        var third = await AdmittedAsync(policy, 10);
        await RefusedAsync(policy, 10, LimitOutcome.ConcurrentRequests);

        await _limiter.SettleAsync(second.Lease!, 10);
        await _limiter.SettleAsync(third.Lease!, 10);
        await AdmittedAsync(policy, 10);
        await AdmittedAsync(policy, 10);
        await RefusedAsync(policy, 10, LimitOutcome.ConcurrentRequests);
    }

    // ---- settlement ----

    [Fact]
    public async Task SettleAsync_ActualBelowTheReservation_RefundsTheDifference()
    {
        var policy = Policy(Tpm(10_000));
        var decision = await AdmittedAsync(policy, 1000);
        Assert.Equal(9000, decision.Snapshot!.Value.TokensRemaining);

        await _limiter.SettleAsync(decision.Lease!, 12);

        Assert.Equal(9988, (await PeekAsync(policy)).TokensRemaining);
        await AdmittedAsync(policy, 9988);
        await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute);
    }

    [Fact]
    public async Task SettleAsync_Refund_NeverFillsTheBucketAboveTheLimit()
    {
        var policy = Policy(Tpm(10_000));
        var decision = await AdmittedAsync(policy, 1000);
        _time.Advance(TimeSpan.FromMinutes(1));

        await _limiter.SettleAsync(decision.Lease!, 0);

        Assert.Equal(10_000, (await PeekAsync(policy)).TokensRemaining);
        await AdmittedAsync(policy, 10_000);
        await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute);
    }

    [Fact]
    public async Task SettleAsync_Overrun_LeavesTheTokenBucketInDebt()
    {
        var policy = Policy(Tpm(1000));
        var decision = await AdmittedAsync(policy, 1000);

        await _limiter.SettleAsync(decision.Lease!, 1500);

        Assert.Equal(0, (await PeekAsync(policy)).TokensRemaining);
        var refused = await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute);
        // 500 tokens of debt plus the one requested, at 1000 per minute: 30.06 seconds.
        Assert.Equal(TimeSpan.FromMilliseconds(30_060), refused.RetryAfter);

        _time.Advance(TimeSpan.FromMilliseconds(30_059));
        await RefusedAsync(policy, 1, LimitOutcome.TokensPerMinute);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await AdmittedAsync(policy, 1);
    }

    [Fact]
    public async Task SettleAsync_Overrun_CountsTheActualUsageAgainstTheQuota()
    {
        var policy = Policy(Monthly(10_000));
        var decision = await AdmittedAsync(policy, 1000);

        await _limiter.SettleAsync(decision.Lease!, 3000);

        await AdmittedAsync(policy, 7000);
        await RefusedAsync(policy, 1, LimitOutcome.MonthlyQuota);
    }

    // ---- monthly quota ----

    [Fact]
    public async Task AcquireAsync_MonthlyQuota_SeedPlusReservationAboveTheQuota_IsRefusedUntilThePeriodEnds()
    {
        var policy = Policy(Monthly(10_000), accountSeed: 9000);

        var refused = await RefusedAsync(policy, 1001, LimitOutcome.MonthlyQuota);
        Assert.Same(policy.Account, refused.RefusedBy);
        Assert.Equal(MarchEnd - Start, refused.RetryAfter);
        Assert.Equal(new TimeSpan(21, 12, 0, 0), refused.RetryAfter);

        // Exactly filling the quota is allowed.
        await AdmittedAsync(policy, 1000);

        _time.Advance(TimeSpan.FromHours(1));
        var later = await RefusedAsync(policy, 1, LimitOutcome.MonthlyQuota);
        Assert.Equal(MarchEnd - _time.GetUtcNow(), later.RetryAfter);
    }

    [Fact]
    public async Task SettleAsync_MonthlyQuota_CountsOnlyTheActualUsage()
    {
        var policy = Policy(Monthly(10_000));
        var decision = await AdmittedAsync(policy, 5000);
        await RefusedAsync(policy, 5001, LimitOutcome.MonthlyQuota);

        await _limiter.SettleAsync(decision.Lease!, 100);

        await AdmittedAsync(policy, 9900);
        await RefusedAsync(policy, 1, LimitOutcome.MonthlyQuota);
    }

    [Fact]
    public async Task AcquireAsync_MonthlyQuota_IsNotRefilledByTime()
    {
        var policy = Policy(Monthly(1000));
        await AdmittedAsync(policy, 1000);

        _time.Advance(TimeSpan.FromDays(5));

        await RefusedAsync(policy, 1, LimitOutcome.MonthlyQuota);
    }

    [Fact]
    public async Task AcquireAsync_NewQuotaPeriod_StartsFromTheNewPeriodsSeed()
    {
        var march = Policy(Monthly(10_000), accountSeed: 9500);
        await AdmittedAsync(march, 500);
        await RefusedAsync(march, 1, LimitOutcome.MonthlyQuota);

        _time.SetUtcNow(MarchEnd.AddSeconds(1));
        var april = Policy(Monthly(10_000), accountSeed: 200);
        Assert.Equal("202604", april.Period.Name);

        await AdmittedAsync(april, 9800);
        var refused = await RefusedAsync(april, 1, LimitOutcome.MonthlyQuota);
        Assert.Equal(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero) - _time.GetUtcNow(), refused.RetryAfter);
    }

    /// <summary>
    /// A request admitted in March that ends in April (a long stream across midnight) is settled
    /// with its March policy. Correcting March's reservation must not touch April's counters:
    /// the Redis limiter settles the March key only. The in-process limiter re-reads the scope
    /// with the lease's period, which switches the counters back to March (and its seed), so the
    /// next April request starts again from April's seed and the April usage is forgotten.
    /// </summary>
    [Fact]
    public async Task SettleAsync_LeaseOfThePreviousPeriod_DoesNotResetTheNewPeriodsQuota()
    {
        var march = Policy(Monthly(10_000), accountSeed: 9000);
        var longStream = await AdmittedAsync(march, 1000);

        _time.SetUtcNow(MarchEnd.AddSeconds(30));
        var april = Policy(Monthly(10_000), accountSeed: 0);
        await AdmittedAsync(april, 10_000);
        await RefusedAsync(april, 1, LimitOutcome.MonthlyQuota);

        await _limiter.SettleAsync(longStream.Lease!, 10);

        await RefusedAsync(april, 1, LimitOutcome.MonthlyQuota);
    }

    /// <summary>
    /// The policy source sums the period's usage only when the scope has a quota, so a scope that
    /// gets a quota mid-period comes with its real seed. The in-process counters only take the
    /// seed when the period name changes, so the seed is ignored and the quota counts from the
    /// tokens this process happened to reserve. The Redis limiter seeds its quota key the first
    /// time a quota applies, which is what this test expects.
    /// </summary>
    [Fact]
    public async Task AcquireAsync_QuotaIntroducedMidPeriod_StartsFromTheSeed()
    {
        var unlimited = Policy(Rpm(1000));
        await AdmittedAsync(unlimited, 100);

        var withQuota = Policy(new LimitSet(1000, 0, 0, 10_000), accountSeed: 9950);

        await RefusedAsync(withQuota, 100, LimitOutcome.MonthlyQuota);
    }

    // ---- scopes ----

    [Fact]
    public async Task AcquireAsync_KeyNarrowerThanAccount_IsEnforcedAndReportedAsRefusedByKey()
    {
        var policy = Policy(Rpm(100), Rpm(2));
        await AdmittedAsync(policy, 1);
        await AdmittedAsync(policy, 1);

        var refused = await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);

        Assert.Same(policy.Key, refused.RefusedBy);
        Assert.Equal("key", refused.RefusedBy!.Name);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
    }

    [Fact]
    public async Task AcquireAsync_KeyTokensPerMinuteNarrowerThanAccount_IsRequestTooLargeByKey()
    {
        var policy = Policy(Tpm(10_000), Tpm(500));

        var refused = await RefusedAsync(policy, 501, LimitOutcome.RequestTooLarge);

        Assert.Same(policy.Key, refused.RefusedBy);
    }

    [Fact]
    public async Task AcquireAsync_KeyQuota_IsEnforcedFromTheKeysSeed()
    {
        var policy = Policy(Monthly(1_000_000), Monthly(1000), accountSeed: 500_000, keySeed: 900);

        var refused = await RefusedAsync(policy, 101, LimitOutcome.MonthlyQuota);
        Assert.Same(policy.Key, refused.RefusedBy);

        await AdmittedAsync(policy, 100);
        await RefusedAsync(policy, 1, LimitOutcome.MonthlyQuota);
    }

    [Fact]
    public async Task AcquireAsync_AccountExhausted_RefusesEveryKeyAsRefusedByAccount()
    {
        var keyA = For(Start, Account(Rpm(3)), Key(Rpm(10)));
        var keyB = For(Start, Account(Rpm(3)), Key(Rpm(10), keyId: OtherKeyId));
        await AdmittedAsync(keyA, 1);
        await AdmittedAsync(keyA, 1);
        await AdmittedAsync(keyB, 1);

        var refused = await RefusedAsync(keyB, 1, LimitOutcome.RequestsPerMinute);

        Assert.Same(keyB.Account, refused.RefusedBy);
        Assert.Equal("account", refused.RefusedBy!.Name);
        await RefusedAsync(keyA, 1, LimitOutcome.RequestsPerMinute);
    }

    [Fact]
    public async Task AcquireAsync_RefusedByKey_ConsumesNothingFromTheAccount()
    {
        var keyA = For(Start, Account(new LimitSet(3, 0, 0, 1000)), Key(Rpm(1)));
        var keyB = For(Start, Account(new LimitSet(3, 0, 0, 1000)), Key(Rpm(10), keyId: OtherKeyId));
        await AdmittedAsync(keyA, 100);
        for (var i = 0; i < 5; i++)
        {
            Assert.Same(keyA.Key, (await RefusedAsync(keyA, 100, LimitOutcome.RequestsPerMinute)).RefusedBy);
        }

        // The account still has 2 requests and 900 tokens of quota.
        await AdmittedAsync(keyB, 400);
        await AdmittedAsync(keyB, 500);
        Assert.Same(keyB.Account, (await RefusedAsync(keyB, 0, LimitOutcome.RequestsPerMinute)).RefusedBy);
        Assert.Same(keyB.Account, (await RefusedAsync(keyB, 1, LimitOutcome.MonthlyQuota)).RefusedBy);
    }

    [Fact]
    public async Task AcquireAsync_Snapshot_ReportsTheTightestScopeForRequestsAndForTokens()
    {
        var policy = Policy(new LimitSet(100, 1000, 0, 0), new LimitSet(10, 5000, 0, 0));

        var snapshot = (await AdmittedAsync(policy, 50)).Snapshot!.Value;

        // Requests: the key (9 of 10 left) is tighter than the account (99 of 100).
        Assert.Equal(10, snapshot.RequestLimit);
        Assert.Equal(9, snapshot.RequestsRemaining);
        Assert.Equal(TimeSpan.FromSeconds(6), snapshot.RequestsReset);
        // Tokens: the account (950 of 1000 left) is tighter than the key (4950 of 5000).
        Assert.Equal(1000, snapshot.TokenLimit);
        Assert.Equal(950, snapshot.TokensRemaining);
        Assert.Equal(TimeSpan.FromSeconds(3), snapshot.TokensReset);
    }

    [Fact]
    public async Task AcquireAsync_Snapshot_AccountWithLessLeftThanTheKey_IsReported()
    {
        var policy = Policy(Rpm(3), Rpm(10));

        var snapshot = (await AdmittedAsync(policy, 1)).Snapshot!.Value;

        Assert.Equal(3, snapshot.RequestLimit);
        Assert.Equal(2, snapshot.RequestsRemaining);
        Assert.Equal(TimeSpan.FromSeconds(20), snapshot.RequestsReset);
        Assert.Equal(0, snapshot.TokenLimit);
    }

    // ---- zero means unlimited ----

    [Fact]
    public async Task AcquireAsync_AllLimitsZero_AdmitsEverythingAndReportsNoLimits()
    {
        var policy = Policy(new LimitSet(0, 0, 0, 0), new LimitSet(0, 0, 0, 0));

        for (var i = 0; i < 1000; i++)
        {
            var decision = await AdmittedAsync(policy, 1_000_000_000_000);
            Assert.Equal(default(RateLimitSnapshot), decision.Snapshot);
        }

        Assert.Equal(default, await PeekAsync(policy));
    }

    [Fact]
    public async Task AcquireAsync_ZeroOnOneDimension_LeavesOnlyThatDimensionUnlimited()
    {
        var policy = Policy(new LimitSet(2, 0, 0, 0));

        await AdmittedAsync(policy, 1_000_000_000);
        await AdmittedAsync(policy, 1_000_000_000);
        await RefusedAsync(policy, 1, LimitOutcome.RequestsPerMinute);
    }

    /// <summary>
    /// A scope first read while a per-minute limit was 0 stores an empty bucket for it (the level
    /// starts at the limit, 0). When the limit is set later, the bucket refills from empty, so a
    /// 500-token request one second after an admin gives a key 1000 TPM is refused with a 29 s
    /// Retry-After although the key used nothing. The Redis script starts such a bucket full
    /// (no hash field yet means a full bucket), so the two limiters disagree.
    /// </summary>
    [Fact]
    public async Task AcquireAsync_LimitIntroducedOnAScopeThatWasUnlimited_StartsWithAFullBucket()
    {
        // The key first has only a monthly quota: no per-minute limit.
        await AdmittedAsync(Policy(Tpm(100_000), Monthly(1_000_000)), 10);

        _time.Advance(TimeSpan.FromSeconds(1));
        var limited = Policy(Tpm(100_000), new LimitSet(0, 1000, 0, 1_000_000));

        await AdmittedAsync(limited, 500);
    }
}
