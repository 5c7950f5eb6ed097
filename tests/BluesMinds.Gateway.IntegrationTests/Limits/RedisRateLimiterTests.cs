using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>
/// The shared limiter against a real Redis, below the HTTP layer: settlements that wait for the
/// account's next check, many at once, across a month's end, and at shutdown.
/// </summary>
public sealed class RedisRateLimiterTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Guid _user = Guid.NewGuid();
    private int _leases;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    [Fact]
    public async Task ManySettlementsAtOnce_AllReachRedis_BeforeTheNextCheck()
    {
        // More settlements than one script call carries: they are sent in several calls, in order.
        const int Requests = 150;
        var limiter = NewLimiter();
        var policy = Policy(new LimitSet(0, 0, Requests, (Requests * 1_000) + (Requests * 100)), QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));

        var leases = new List<LimitLease>();
        for (var i = 0; i < Requests; i++)
        {
            leases.Add(await AdmitAsync(limiter, policy, 1_000));
        }

        Assert.Equal(LimitOutcome.ConcurrentRequests, (await AcquireAsync(limiter, policy, 0)).Outcome);
        foreach (var lease in leases)
        {
            await limiter.SettleAsync(lease, 100);
        }

        // Every slot is free again and every reservation corrected to 100 tokens: 150 more requests
        // of 1,000 fit the quota exactly, and one token more does not.
        for (var i = 0; i < Requests; i++)
        {
            await AdmitAsync(limiter, policy, 1_000);
        }

        var last = await AcquireAsync(limiter, policy, 1);
        Assert.Equal(LimitOutcome.MonthlyQuota, last.Outcome);
    }

    [Fact]
    public async Task ParallelChecks_AreDecidedOneAfterTheOther_EachWithItsOwnAnswer()
    {
        // Checks that arrive while the account's call is in flight leave together (64 at most per
        // call, so 80 take more than one); each must still be decided in turn and get its own
        // counters back.
        const int Limit = 50;
        var limiter = NewLimiter();
        var policy = Policy(new LimitSet(Limit, 0, 0, 0), QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));

        var decisions = await Task.WhenAll(Enumerable.Range(0, 80).Select(_ => Task.Run(() => AcquireAsync(limiter, policy, 1))));

        var admitted = decisions.Where(d => d.Admitted).ToList();
        Assert.Equal(Limit, admitted.Count);
        Assert.All(decisions.Where(d => !d.Admitted), d => Assert.Equal(LimitOutcome.RequestsPerMinute, d.Outcome));
        Assert.Equal(Enumerable.Range(0, Limit).Select(i => (long)i), admitted.Select(d => d.Snapshot!.Value.RequestsRemaining).Order());
    }

    [Fact]
    public async Task SettlementOfLastMonthsRequest_LeavesThisMonthsQuotaAlone()
    {
        var limiter = NewLimiter();
        var november = Policy(new LimitSet(0, 0, 0, 1_000), new QuotaPeriod(new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero)));
        var december = Policy(new LimitSet(0, 0, 0, 1_000), new QuotaPeriod(new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        var lastMonth = await AdmitAsync(limiter, november, 500);
        await AdmitAsync(limiter, december, 100);

        // Refunding November's 500 must not lower December's count.
        await limiter.SettleAsync(lastMonth, 0);
        await AdmitAsync(limiter, december, 900);
        Assert.Equal(LimitOutcome.MonthlyQuota, (await AcquireAsync(limiter, december, 1)).Outcome);
    }

    [Fact]
    public async Task SettlementWithoutALaterCheck_ReachesOtherInstances()
    {
        var policy = Policy(new LimitSet(0, 0, 1, 0), QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));
        var first = NewLimiter();
        var second = NewLimiter();

        var lease = await AdmitAsync(first, policy, 10);
        Assert.Equal(LimitOutcome.ConcurrentRequests, (await AcquireAsync(second, policy, 10)).Outcome);

        // The first instance checks nothing more: its settlement goes on its own.
        await first.SettleAsync(lease, 10);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(2);
        LimitDecision decision;
        do
        {
            decision = await AcquireAsync(second, policy, 10);
        }
        while (!decision.Admitted && DateTimeOffset.UtcNow < deadline);

        Assert.True(decision.Admitted, $"the slot was not freed: {decision.Outcome}");
    }

    [Fact]
    public async Task PendingSettlements_AreSentWhenTheInstanceStops()
    {
        var policy = Policy(new LimitSet(0, 0, 3, 0), QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));
        var (stopping, connection) = NewLimiterWithConnection();
        var leases = new[] { await AdmitAsync(stopping, policy, 10), await AdmitAsync(stopping, policy, 10), await AdmitAsync(stopping, policy, 10) };
        foreach (var lease in leases)
        {
            await stopping.SettleAsync(lease, 10);
        }

        // The host disposes the limiter before the connection it depends on.
        await stopping.DisposeAsync();
        await connection.DisposeAsync();

        var other = NewLimiter();
        for (var i = 0; i < 3; i++)
        {
            await AdmitAsync(other, policy, 10);
        }
    }

    [Fact]
    public async Task ScriptsFlushedFromRedis_TheNextChecksLoadItAgain_AndCountOnFromTheStoredState()
    {
        // A Redis that restarted with its data, failed over, or had SCRIPT FLUSH run keeps the
        // counters but not the script the calls name by its hash.
        var policy = Policy(new LimitSet(4, 0, 0, 0), QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));
        var limiter = NewLimiter();
        await AdmitAsync(limiter, policy, 1);
        await AdmitAsync(limiter, policy, 1);

        var settings = RedisConnectionString.Parse(TestEnvironmentVariables.RedisUrl);
        settings.AllowAdmin = true;
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(settings);
        var server = admin.GetServers().Single();
        await server.ScriptFlushAsync();
        Assert.False(await server.ScriptExistsAsync(RedisLimiterScripts.AdmitHash));

        // Several at once: the first call fails with NOSCRIPT, the checks queued behind it must not.
        var decisions = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => AcquireAsync(limiter, policy, 1))));
        Assert.Equal(2, decisions.Count(d => d.Admitted));
        Assert.Equal([LimitOutcome.RequestsPerMinute], decisions.Where(d => !d.Admitted).Select(d => d.Outcome));
        Assert.True(await server.ScriptExistsAsync(RedisLimiterScripts.AdmitHash));
    }

    private LimitPolicy Policy(LimitSet account, QuotaPeriod period) =>
        new(new LimitScope("account", LimitScope.AccountKey(_user), account, 0), null, period);

    private RedisRateLimiter NewLimiter() => NewLimiterWithConnection().Limiter;

    private (RedisRateLimiter Limiter, RedisConnection Connection) NewLimiterWithConnection()
    {
        var connection = new RedisConnection(Options.Create(new RedisOptions { Url = TestEnvironmentVariables.RedisUrl }));
        var limiter = new RedisRateLimiter(
            connection,
            new InProcessRateLimiter(TimeProvider.System),
            Options.Create(new RateLimitOptions { RedisFailureMode = "closed" }),
            TimeProvider.System,
            NullLogger<RedisRateLimiter>.Instance);
        _owned.Add(connection);
        _owned.Add(limiter);
        return (limiter, connection);
    }

    private async Task<LimitDecision> AcquireAsync(RedisRateLimiter limiter, LimitPolicy policy, long tokens) =>
        await limiter.AcquireAsync(policy, tokens, "lease-" + Interlocked.Increment(ref _leases));

    private async Task<LimitLease> AdmitAsync(RedisRateLimiter limiter, LimitPolicy policy, long tokens)
    {
        var decision = await AcquireAsync(limiter, policy, tokens);
        Assert.True(decision.Admitted, $"refused: {decision.Outcome}");
        return decision.Lease!;
    }
}
