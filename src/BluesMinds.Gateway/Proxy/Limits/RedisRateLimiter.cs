using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The limiter shared by every replica: one Lua script per check-and-reserve, so N replicas admit
/// what one would. While Redis is unreachable it follows <c>RATE_LIMIT_REDIS_FAILURE_MODE</c>:
/// <c>closed</c> refuses (503), <c>open</c> falls back to this instance's in-process limiter.
/// </summary>
internal sealed partial class RedisRateLimiter(
    RedisConnection redis,
    InProcessRateLimiter fallback,
    IOptions<RateLimitOptions> options,
    TimeProvider time,
    ILogger<RedisRateLimiter> logger) : IRateLimiter
{
    /// <summary>A concurrency slot of a replica that died is freed after this long.</summary>
    internal static readonly TimeSpan LeaseLifetime = TimeSpan.FromMinutes(15);

    private int _unreachable;

    /// <summary>True while the last call could not reach Redis; readiness reports it.</summary>
    public bool Unreachable => Volatile.Read(ref _unreachable) == 1;

    private bool FailOpen => options.Value.RedisFailureMode == "open";

    public async ValueTask<LimitDecision> AcquireAsync(LimitPolicy policy, long tokens, string leaseId)
    {
        var result = await RunAcquireAsync(policy, tokens, leaseId, consume: true);
        if (result is null)
        {
            return FailOpen
                ? await fallback.AcquireAsync(policy, tokens, leaseId)
                : new LimitDecision(LimitOutcome.Unavailable, null, LimitMath.RetryAfter(LimitOutcome.Unavailable, default, default, 0, policy.Period, time.GetUtcNow()), null, null, tokens);
        }

        var (outcome, refusedIndex, account, key) = result.Value;
        var snapshot = RateLimitSnapshot.From(policy, account, key);
        if (outcome == LimitOutcome.Admitted)
        {
            return new LimitDecision(outcome, null, TimeSpan.Zero, snapshot, new LimitLease(policy, tokens, leaseId, this), tokens);
        }

        var (scope, state) = refusedIndex == 2 ? (policy.Key!, key!.Value) : (policy.Account, account);
        var retry = LimitMath.RetryAfter(outcome, scope.Limits, state, tokens, policy.Period, time.GetUtcNow());
        return new LimitDecision(outcome, scope, retry, snapshot, null, tokens);
    }

    public async ValueTask<RateLimitSnapshot?> PeekAsync(LimitPolicy policy)
    {
        var result = await RunAcquireAsync(policy, 0, string.Empty, consume: false);
        if (result is null)
        {
            return FailOpen ? await fallback.PeekAsync(policy) : null;
        }

        return RateLimitSnapshot.From(policy, result.Value.Account, result.Value.Key);
    }

    public async ValueTask SettleAsync(LimitLease lease, long actualTokens)
    {
        var policy = lease.Policy;
        var keys = Keys(policy);
        var args = new List<RedisValue>(2 + (keys.Length / 3 * 2)) { lease.ReservedTokens - actualTokens, lease.LeaseId };
        foreach (var scope in Scopes(policy))
        {
            args.Add(scope.Limits.TokensPerMinute);
            args.Add(scope.Limits.MonthlyTokens);
        }

        try
        {
            // Fire and forget: the command is queued on the connection before this returns, so a
            // later acquire on this instance is evaluated after it; the request does not wait for it.
            var multiplexer = await redis.GetAsync();
            await multiplexer.GetDatabase().ScriptEvaluateAsync(RedisLimiterScripts.Settle, keys, [.. args], CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The slot frees itself when its lease expires; an unsettled reservation only errs on the safe side.
            LogSettleFailed(logger, ex);
        }
    }

    private async Task<(LimitOutcome Outcome, int RefusedIndex, ScopeState Account, ScopeState? Key)?> RunAcquireAsync(
        LimitPolicy policy, long tokens, string leaseId, bool consume)
    {
        var now = time.GetUtcNow();
        var quotaTtl = (long)Math.Ceiling((policy.Period.End - now).TotalSeconds) + 86_400;
        var args = new List<RedisValue>(15)
        {
            consume ? 1 : 0, tokens, leaseId, (long)LeaseLifetime.TotalMilliseconds, Math.Max(quotaTtl, 60),
        };
        foreach (var scope in Scopes(policy))
        {
            args.Add(scope.Limits.RequestsPerMinute);
            args.Add(scope.Limits.TokensPerMinute);
            args.Add(scope.Limits.ConcurrentRequests);
            args.Add(scope.Limits.MonthlyTokens);
            args.Add(scope.QuotaUsedSeed);
        }

        RedisResult[] values;
        try
        {
            var multiplexer = await redis.GetAsync();
            if (!multiplexer.IsConnected)
            {
                // Fail fast rather than wait for a command timeout on every request.
                MarkUnreachable(null);
                return null;
            }

            values = (RedisResult[])(await multiplexer.GetDatabase().ScriptEvaluateAsync(RedisLimiterScripts.Acquire, Keys(policy), [.. args]))!;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            MarkUnreachable(ex);
            return null;
        }

        if (Interlocked.Exchange(ref _unreachable, 0) == 1)
        {
            LogReachable(logger);
        }

        var account = State(values, 2);
        ScopeState? key = policy.Key is null ? null : State(values, 6);
        return ((LimitOutcome)(int)values[0], (int)values[1], account, key);
    }

    private void MarkUnreachable(Exception? exception)
    {
        if (Interlocked.Exchange(ref _unreachable, 1) == 0)
        {
            LogUnreachable(logger, options.Value.RedisFailureMode, exception);
        }
    }

    private static ScopeState State(RedisResult[] values, int offset) =>
        new((long)values[offset] / 1000.0, (long)values[offset + 1] / 1000.0, (long)values[offset + 2], (long)values[offset + 3]);

    private static IEnumerable<LimitScope> Scopes(LimitPolicy policy)
    {
        yield return policy.Account;
        if (policy.Key is { } key)
        {
            yield return key;
        }
    }

    private static RedisKey[] Keys(LimitPolicy policy)
    {
        var keys = new List<RedisKey>(6);
        foreach (var scope in Scopes(policy))
        {
            var prefix = "bm:rl:" + scope.StoreKey;
            keys.Add(prefix + ":rate");
            keys.Add(prefix + ":conc");
            keys.Add(prefix + ":q:" + policy.Period.Name);
        }

        return [.. keys];
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error, Message = "Redis is unreachable for rate limiting; failure mode '{Mode}' applies until it answers again")]
    private static partial void LogUnreachable(ILogger logger, string mode, Exception? exception);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Redis answers again; rate limits are shared across replicas")]
    private static partial void LogReachable(ILogger logger);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Could not settle a rate-limit reservation in Redis")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception);
}
