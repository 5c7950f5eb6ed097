namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// Checks and reserves against every limit of a request in one atomic step, and settles the
/// reservation to the real usage afterwards. Two back-ends: in-process and Redis.
/// </summary>
internal interface IRateLimiter
{
    /// <summary>Admits (reserving one request, <paramref name="tokens"/> tokens and a concurrency slot) or refuses.</summary>
    ValueTask<LimitDecision> AcquireAsync(LimitPolicy policy, long tokens, string leaseId);

    /// <summary>The current state, consuming nothing; null when it cannot be read.</summary>
    ValueTask<RateLimitSnapshot?> PeekAsync(LimitPolicy policy);

    /// <summary>Gives back the concurrency slot and corrects the reservation to <paramref name="actualTokens"/>. Never throws.</summary>
    ValueTask SettleAsync(LimitLease lease, long actualTokens);
}

/// <summary>Which limit refused a request (checked in this order).</summary>
internal enum LimitOutcome
{
    Admitted = 0,
    MonthlyQuota = 1,
    RequestTooLarge = 2,
    RequestsPerMinute = 3,
    TokensPerMinute = 4,
    ConcurrentRequests = 5,

    /// <summary>The shared store is unreachable and the failure mode is <c>closed</c>.</summary>
    Unavailable = 6,
}

/// <summary>A scope's counters as the limiter saw them (after the reservation when admitted).</summary>
internal readonly record struct ScopeState(double RequestsAvailable, double TokensAvailable, long Concurrent, long QuotaUsed);

/// <summary>What an admitted request holds until it is settled.</summary>
internal sealed record LimitLease(LimitPolicy Policy, long ReservedTokens, string LeaseId, IRateLimiter IssuedBy);

/// <summary>The answer of <see cref="IRateLimiter.AcquireAsync"/>.</summary>
internal sealed record LimitDecision(LimitOutcome Outcome, LimitScope? RefusedBy, TimeSpan RetryAfter, RateLimitSnapshot? Snapshot, LimitLease? Lease, long RequestedTokens)
{
    public bool Admitted => Outcome == LimitOutcome.Admitted;
}

/// <summary>What OpenAI's <c>x-ratelimit-*</c> headers report: the tightest scope for requests and for tokens.</summary>
internal readonly record struct RateLimitSnapshot(
    long RequestLimit, long RequestsRemaining, TimeSpan RequestsReset,
    long TokenLimit, long TokensRemaining, TimeSpan TokensReset)
{
    public static RateLimitSnapshot From(LimitPolicy policy, ScopeState account, ScopeState? key)
    {
        var snapshot = Scope(policy.Account.Limits, account);
        if (policy.Key is { } keyScope && key is { } keyState)
        {
            var narrower = Scope(keyScope.Limits, keyState);
            if (narrower.RequestLimit > 0 && (snapshot.RequestLimit == 0 || narrower.RequestsRemaining < snapshot.RequestsRemaining))
            {
                snapshot = snapshot with { RequestLimit = narrower.RequestLimit, RequestsRemaining = narrower.RequestsRemaining, RequestsReset = narrower.RequestsReset };
            }

            if (narrower.TokenLimit > 0 && (snapshot.TokenLimit == 0 || narrower.TokensRemaining < snapshot.TokensRemaining))
            {
                snapshot = snapshot with { TokenLimit = narrower.TokenLimit, TokensRemaining = narrower.TokensRemaining, TokensReset = narrower.TokensReset };
            }
        }

        return snapshot;
    }

    private static RateLimitSnapshot Scope(LimitSet limits, ScopeState state) => new(
        limits.RequestsPerMinute,
        limits.RequestsPerMinute == 0 ? 0 : Math.Max(0, (long)Math.Floor(state.RequestsAvailable)),
        LimitMath.TimeToRefill(state.RequestsAvailable, limits.RequestsPerMinute, limits.RequestsPerMinute),
        limits.TokensPerMinute,
        limits.TokensPerMinute == 0 ? 0 : Math.Max(0, (long)Math.Floor(state.TokensAvailable)),
        LimitMath.TimeToRefill(state.TokensAvailable, limits.TokensPerMinute, limits.TokensPerMinute));
}
