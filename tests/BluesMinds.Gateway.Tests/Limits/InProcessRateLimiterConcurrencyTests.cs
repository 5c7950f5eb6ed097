using System.Collections.Concurrent;
using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.Extensions.Time.Testing;
using static BluesMinds.Gateway.Tests.Limits.Policies;

namespace BluesMinds.Gateway.Tests.Limits;

/// <summary>Check-and-reserve must be one atomic step: parallel callers never share the last unit of a limit.</summary>
public sealed class InProcessRateLimiterConcurrencyTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);
    private static readonly ParallelOptions Wide = new() { MaxDegreeOfParallelism = 64 };

    /// <summary>A lost update needs a thread switch inside a few instructions: each case runs many rounds to give one the chance.</summary>
    private const int Rounds = 50;

    private readonly FakeTimeProvider _time = new(Start);
    private readonly InProcessRateLimiter _limiter;

    public InProcessRateLimiterConcurrencyTests()
    {
        _limiter = new InProcessRateLimiter(_time);
        // Make sure 64 workers really run at once rather than trickling out of a cold thread pool.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 72), io);
    }

    private static async Task<ConcurrentBag<LimitDecision>> AcquireInParallelAsync(InProcessRateLimiter limiter, int calls, Func<int, LimitPolicy> policy, long tokens)
    {
        var decisions = new ConcurrentBag<LimitDecision>();
        await Parallel.ForEachAsync(Enumerable.Range(0, calls), Wide, async (i, _) =>
            decisions.Add(await limiter.AcquireAsync(policy(i), tokens, "lease-" + i)));
        Assert.Equal(calls, decisions.Count);
        return decisions;
    }

    [Theory]
    [InlineData(12_345, 100, 256)]
    [InlineData(10_000, 100, 200)]
    [InlineData(999, 1000, 64)]
    [InlineData(1_000_003, 7_919, 300)]
    public async Task AcquireAsync_ParallelAgainstAMonthlyBudget_AdmitsExactlyWhatFits(long remaining, long reservation, int calls)
    {
        const long Quota = 100_000_000;
        var policy = For(Start, Account(Monthly(Quota), seed: Quota - remaining));

        var fits = remaining / reservation;
        var left = remaining - (fits * reservation);

        for (var round = 0; round < Rounds; round++)
        {
            var limiter = new InProcessRateLimiter(_time);
            var decisions = await AcquireInParallelAsync(limiter, calls, _ => policy, reservation);

            Assert.Equal(fits, decisions.Count(d => d.Admitted));
            Assert.All(decisions.Where(d => !d.Admitted), d => Assert.Equal(LimitOutcome.MonthlyQuota, d.Outcome));
            // What is left is exactly the remainder: it fits, one more token does not.
            Assert.Equal(LimitOutcome.MonthlyQuota, (await limiter.AcquireAsync(policy, left + 1, "after-1")).Outcome);
            Assert.Equal(LimitOutcome.Admitted, (await limiter.AcquireAsync(policy, left, "after-2")).Outcome);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(100)]
    [InlineData(199)]
    public async Task AcquireAsync_ParallelAgainstRequestsPerMinute_AdmitsExactlyTheLimit(int limit)
    {
        var policy = For(Start, Account(Rpm(limit)));

        for (var round = 0; round < Rounds; round++)
        {
            var decisions = await AcquireInParallelAsync(new InProcessRateLimiter(_time), 200, _ => policy, 1);

            Assert.Equal(limit, decisions.Count(d => d.Admitted));
            Assert.All(decisions.Where(d => !d.Admitted), d => Assert.Equal(LimitOutcome.RequestsPerMinute, d.Outcome));
        }
    }

    [Fact]
    public async Task AcquireAsync_ParallelAgainstTokensPerMinute_AdmitsExactlyWhatFits()
    {
        var policy = For(Start, Account(Tpm(100_000)));

        for (var round = 0; round < Rounds; round++)
        {
            var decisions = await AcquireInParallelAsync(new InProcessRateLimiter(_time), 256, _ => policy, 3_000);

            Assert.Equal(33, decisions.Count(d => d.Admitted));
        }
    }

    [Fact]
    public async Task AcquireAsync_ParallelFromManyKeysOfOneAccount_ShareTheAccountExactly()
    {
        var account = Account(new LimitSet(0, 0, 0, 1_000_000), seed: 1_000_000 - 50_050);
        var keys = Enumerable.Range(0, 8).Select(_ => Key(Rpm(1000), keyId: Guid.NewGuid())).ToArray();
        var policies = keys.Select(k => new LimitPolicy(account, k, QuotaPeriod.CalendarMonth(Start))).ToArray();

        for (var round = 0; round < Rounds; round++)
        {
            var decisions = await AcquireInParallelAsync(new InProcessRateLimiter(_time), 512, i => policies[i % policies.Length], 500);

            Assert.Equal(100, decisions.Count(d => d.Admitted));
            Assert.All(decisions.Where(d => !d.Admitted), d => Assert.Equal("account", d.RefusedBy!.Name));
        }
    }

    [Fact]
    public async Task AcquireAsync_ParallelAcquireAndSettle_NeverExceedsTheConcurrencyLimit()
    {
        const int Limit = 8;
        var policy = For(Start, Account(Concurrent(Limit)));
        var inFlight = 0;
        var most = 0;
        var admitted = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), Wide, async (i, _) =>
        {
            var decision = await _limiter.AcquireAsync(policy, 1, "lease-" + i);
            if (!decision.Admitted)
            {
                Assert.Equal(LimitOutcome.ConcurrentRequests, decision.Outcome);
                return;
            }

            Interlocked.Increment(ref admitted);
            var now = Interlocked.Increment(ref inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref most)) && Interlocked.CompareExchange(ref most, now, seen) != seen)
            {
            }

            Thread.SpinWait(200);
            Interlocked.Decrement(ref inFlight);
            await _limiter.SettleAsync(decision.Lease!, 1);
        });

        Assert.InRange(most, 1, Limit);
        Assert.True(admitted >= Limit, $"only {admitted} admitted");
        // Every slot was given back.
        for (var i = 0; i < Limit; i++)
        {
            Assert.True((await _limiter.AcquireAsync(policy, 1, "after-" + i)).Admitted);
        }

        Assert.Equal(LimitOutcome.ConcurrentRequests, (await _limiter.AcquireAsync(policy, 1, "after-last")).Outcome);
    }
}
