using System.Collections.Concurrent;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The embedded limiter: counters in this process's memory, each scope behind its own lock (the
/// account's always taken before the key's). Exact for one instance; with several instances each
/// enforces the limits on its own, which is why Redis is required for more than one replica.
/// </summary>
internal sealed class InProcessRateLimiter(TimeProvider time) : IRateLimiter
{
    private readonly ConcurrentDictionary<string, Counters> _scopes = new(StringComparer.Ordinal);

    public ValueTask<LimitDecision> AcquireAsync(LimitPolicy policy, long tokens, string leaseId)
    {
        var now = time.GetUtcNow();
        var ms = now.ToUnixTimeMilliseconds();
        var account = For(policy.Account);
        var key = policy.Key is null ? null : For(policy.Key);
        lock (account)
        {
            lock (key ?? account)
            {
                var accountState = account.Read(policy.Account, policy.Period, ms);
                var keyState = key?.Read(policy.Key!, policy.Period, ms);
                var outcome = LimitMath.Check(policy.Account.Limits, accountState, tokens);
                var refusedBy = outcome == LimitOutcome.Admitted ? null : policy.Account;
                var refusedState = accountState;
                if (outcome == LimitOutcome.Admitted && keyState is { } ks)
                {
                    outcome = LimitMath.Check(policy.Key!.Limits, ks, tokens);
                    refusedBy = outcome == LimitOutcome.Admitted ? null : policy.Key;
                    refusedState = ks;
                }

                if (outcome != LimitOutcome.Admitted)
                {
                    var retry = LimitMath.RetryAfter(outcome, refusedBy!.Limits, refusedState, tokens, policy.Period, now);
                    return ValueTask.FromResult(new LimitDecision(outcome, refusedBy, retry, RateLimitSnapshot.From(policy, accountState, keyState), null, tokens));
                }

                accountState = account.Take(policy.Account.Limits, tokens);
                keyState = key?.Take(policy.Key!.Limits, tokens);
                var lease = new LimitLease(policy, tokens, leaseId, this);
                return ValueTask.FromResult(new LimitDecision(LimitOutcome.Admitted, null, TimeSpan.Zero, RateLimitSnapshot.From(policy, accountState, keyState), lease, tokens));
            }
        }
    }

    public ValueTask<RateLimitSnapshot?> PeekAsync(LimitPolicy policy)
    {
        var ms = time.GetUtcNow().ToUnixTimeMilliseconds();
        var account = For(policy.Account);
        var key = policy.Key is null ? null : For(policy.Key);
        lock (account)
        {
            lock (key ?? account)
            {
                var snapshot = RateLimitSnapshot.From(policy, account.Read(policy.Account, policy.Period, ms), key?.Read(policy.Key!, policy.Period, ms));
                return ValueTask.FromResult<RateLimitSnapshot?>(snapshot);
            }
        }
    }

    public ValueTask SettleAsync(LimitLease lease, long actualTokens)
    {
        var refund = lease.ReservedTokens - actualTokens;
        var ms = time.GetUtcNow().ToUnixTimeMilliseconds();
        Settle(lease.Policy.Account, lease.Policy.Period, refund, ms);
        if (lease.Policy.Key is { } key)
        {
            Settle(key, lease.Policy.Period, refund, ms);
        }

        return ValueTask.CompletedTask;
    }

    private void Settle(LimitScope scope, QuotaPeriod period, long refund, long ms)
    {
        var counters = For(scope);
        lock (counters)
        {
            counters.Settle(scope.Limits, period, refund, ms);
        }
    }

    private Counters For(LimitScope scope) => _scopes.GetOrAdd(scope.StoreKey, static _ => new Counters());

    /// <summary>One scope's buckets; every member is used under the instance's lock.</summary>
    private sealed class Counters
    {
        // NaN while the limit does not apply, so that a limit set later starts with a full bucket.
        private double _requests = double.NaN;
        private double _tokens = double.NaN;
        private long _at;
        private long _concurrent;
        private QuotaPeriod? _quotaPeriod;
        private long _quotaUsed;

        /// <summary>Refills the buckets to <paramref name="ms"/>; starts the quota from the seed in a new period or when a quota first applies.</summary>
        public ScopeState Read(LimitScope scope, QuotaPeriod period, long ms)
        {
            var limits = scope.Limits;
            Refill(limits, ms);
            // Only ever forward: a policy of an earlier period (a stale cache entry) must not reset this one.
            if (limits.MonthlyTokens > 0 && (_quotaPeriod is not { } current || period.Start > current.Start))
            {
                _quotaPeriod = period;
                _quotaUsed = scope.QuotaUsedSeed;
            }

            return State;
        }

        public ScopeState Take(LimitSet limits, long tokens)
        {
            if (limits.RequestsPerMinute > 0)
            {
                _requests -= 1;
            }

            if (limits.TokensPerMinute > 0)
            {
                _tokens -= tokens;
            }

            _concurrent++;
            _quotaUsed += tokens;
            return State;
        }

        /// <summary>Frees the slot and corrects the reservation; never moves the quota to another period.</summary>
        public void Settle(LimitSet limits, QuotaPeriod period, long refund, long ms)
        {
            Refill(limits, ms);
            _concurrent = Math.Max(0, _concurrent - 1);
            if (limits.TokensPerMinute > 0)
            {
                // A refund never fills past the limit; an overrun leaves the bucket in debt.
                _tokens = Math.Min(limits.TokensPerMinute, _tokens + refund);
            }

            if (_quotaPeriod == period)
            {
                _quotaUsed = Math.Max(0, _quotaUsed - refund);
            }
        }

        private void Refill(LimitSet limits, long ms)
        {
            _requests = Level(_requests, limits.RequestsPerMinute, ms);
            _tokens = Level(_tokens, limits.TokensPerMinute, ms);
            _at = Math.Max(_at, ms);
        }

        private double Level(double level, long limit, long ms) =>
            limit <= 0 ? double.NaN : double.IsNaN(level) ? limit : LimitMath.Refill(level, ms - _at, limit);

        private ScopeState State => new(
            double.IsNaN(_requests) ? 0 : _requests, double.IsNaN(_tokens) ? 0 : _tokens, _concurrent, _quotaUsed);
    }
}
