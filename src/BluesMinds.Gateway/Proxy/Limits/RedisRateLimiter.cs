using System.Runtime.InteropServices;
using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The limiter shared by every replica: each check-and-reserve is atomic in a Lua script, so N
/// replicas admit what one would. One call per account is in flight from an instance; checks that
/// arrive meanwhile leave together when it returns. A settlement travels in front of the account's
/// next call, or alone as soon as the thread pool gets to it; either way before any later check of
/// this instance.
/// While Redis is unreachable it follows <c>RATE_LIMIT_REDIS_FAILURE_MODE</c>:
/// <c>closed</c> refuses (503), <c>open</c> falls back to this instance's in-process limiter.
/// </summary>
internal sealed partial class RedisRateLimiter(
    RedisConnection redis,
    InProcessRateLimiter fallback,
    IOptions<RateLimitOptions> options,
    TimeProvider time,
    ILogger<RedisRateLimiter> logger) : IRateLimiter, IAsyncDisposable
{
    /// <summary>A concurrency slot of a replica that died is freed after this long.</summary>
    internal static readonly TimeSpan LeaseLifetime = TimeSpan.FromMinutes(15);

    private readonly Lock _sending = new();

    // Per account with traffic in progress: pending settlements, the call in flight, checks queued.
    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);
    private bool _flushQueued;
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

    public ValueTask SettleAsync(LimitLease lease, long actualTokens)
    {
        var settlement = RedisLimiterCall.Settlement(lease, lease.ReservedTokens - actualTokens, time.GetUtcNow());
        lock (_sending)
        {
            (LaneOf(lease.Policy.Account.StoreKey).Settlements ??= []).Add(settlement);
            if (_flushQueued)
            {
                return ValueTask.CompletedTask;
            }

            _flushQueued = true;
        }

        // Sent from the back of the thread pool's queue: under load, a check of the same account
        // usually leaves first and carries it; otherwise it goes alone, without waiting for a timer.
        ThreadPool.UnsafeQueueUserWorkItem(static limiter => _ = limiter.FlushAsync(), this, preferLocal: false);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends every settlement still pending, one script call per account. Never throws.</summary>
    internal async Task FlushAsync()
    {
        lock (_sending)
        {
            if (!_lanes.Values.Any(lane => lane.Settlements is not null))
            {
                _flushQueued = false;
                return;
            }
        }

        IDatabase database;
        try
        {
            database = (await redis.GetAsync()).GetDatabase();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            lock (_sending)
            {
                // The slots free themselves when their leases expire; an unsettled reservation only errs on the safe side.
                _flushQueued = false;
                foreach (var (key, lane) in _lanes)
                {
                    lane.Settlements = null;
                    RemoveIfIdle(key, lane);
                }
            }

            LogSettleFailed(logger, ex);
            return;
        }

        Exception? failure = null;
        lock (_sending)
        {
            _flushQueued = false;
            foreach (var (key, lane) in _lanes)
            {
                if (lane.Settlements is { } settlements)
                {
                    lane.Settlements = null;
                    failure ??= Send(database, settlements, settlements.Count);
                }

                RemoveIfIdle(key, lane);
            }
        }

        if (failure is not null)
        {
            LogSettleFailed(logger, failure);
        }
    }

    /// <summary>
    /// Queues the first <paramref name="count"/> settlements as fire-and-forget calls. Called inside
    /// the lock: a later check of this instance is queued after them, so Redis evaluates them first.
    /// </summary>
    private static Exception? Send(IDatabase database, List<RedisLimiterCall.Part> settlements, int count)
    {
        try
        {
            for (var start = 0; start < count; start += RedisLimiterCall.MaxSettlements)
            {
                var (keys, args) = RedisLimiterCall.Build(settlements, start, Math.Min(RedisLimiterCall.MaxSettlements, count - start), []);
                _ = database.ScriptEvaluateAsync(RedisLimiterScripts.Admit, keys, args, CommandFlags.FireAndForget);
            }

            return null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return ex;
        }
    }

    /// <summary>Settlements still pending at shutdown are sent before the connection closes.</summary>
    public async ValueTask DisposeAsync() => await FlushAsync();

    private async Task<(LimitOutcome Outcome, int RefusedIndex, ScopeState Account, ScopeState? Key)?> RunAcquireAsync(
        LimitPolicy policy, long tokens, string leaseId, bool consume)
    {
        var check = RedisLimiterCall.Check(policy, tokens, leaseId, consume, time.GetUtcNow());
        var account = policy.Account.StoreKey;
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

            var database = multiplexer.GetDatabase();
            Task<RedisResult>? call = null;
            QueuedCheck? queued = null;
            lock (_sending)
            {
                var lane = LaneOf(account);
                if (lane.InFlight)
                {
                    // One call per account at a time: checks that arrive meanwhile leave together
                    // when it returns, in one call, as if one after the other.
                    queued = new QueuedCheck(check);
                    (lane.Queued ??= []).Add(queued);
                }
                else
                {
                    lane.InFlight = true;
                    call = Call(database, lane, [check]);
                }
            }

            if (queued is not null)
            {
                values = await queued.Task;
            }
            else
            {
                try
                {
                    values = (RedisResult[])(await call!)!;
                }
                finally
                {
                    SendQueued(database, account);
                }
            }
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

        var accountState = State(values, 2);
        ScopeState? keyState = policy.Key is null ? null : State(values, 6);
        return ((LimitOutcome)(int)values[0], (int)values[1], accountState, keyState);
    }

    /// <summary>
    /// Queues one call with the lane's pending settlements (the last <see cref="RedisLimiterCall.MaxSettlements"/>
    /// in front of the checks, any before them in calls of their own) and the checks. Inside the lock.
    /// </summary>
    private Task<RedisResult> Call(IDatabase database, Lane lane, List<RedisLimiterCall.Part> checks)
    {
        var settlements = lane.Settlements;
        lane.Settlements = null;
        var carried = Math.Min(settlements?.Count ?? 0, RedisLimiterCall.MaxSettlements);
        if (settlements?.Count > carried && Send(database, settlements, settlements.Count - carried) is { } failure)
        {
            LogSettleFailed(logger, failure);
        }

        var (keys, args) = RedisLimiterCall.Build(settlements, (settlements?.Count ?? 0) - carried, carried, checks);

        // A failure to queue the call comes back in the task, as the failure of the call itself would.
        return EvaluateAsync(database, keys, args);
    }

    /// <summary>
    /// <c>EVALSHA</c> by the script's hash; if Redis no longer has the script (it restarted, failed
    /// over or had its scripts flushed) it ran nothing, and the call is made again with the script's
    /// text, which loads it. Queued on the connection before the first await, so inside the lock.
    /// </summary>
    private static async Task<RedisResult> EvaluateAsync(IDatabase database, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await database.ScriptEvaluateAsync(RedisLimiterScripts.AdmitHash, keys, args);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await database.ScriptEvaluateAsync(RedisLimiterScripts.Admit, keys, args);
        }
    }

    /// <summary>After a call of the account returns: the checks queued meanwhile leave in one call, or the lane goes idle.</summary>
    private void SendQueued(IDatabase database, string account)
    {
        List<QueuedCheck>? batch;
        Task<RedisResult> call;
        lock (_sending)
        {
            var lane = _lanes[account];
            batch = lane.Queued;
            lane.Queued = null;
            if (batch?.Count > RedisLimiterCall.MaxChecks)
            {
                // The rest wait for this call: a call blocks Redis while it runs, so it stays short.
                lane.Queued = batch.GetRange(RedisLimiterCall.MaxChecks, batch.Count - RedisLimiterCall.MaxChecks);
                batch.RemoveRange(RedisLimiterCall.MaxChecks, batch.Count - RedisLimiterCall.MaxChecks);
            }

            if (batch is null)
            {
                lane.InFlight = false;
                RemoveIfIdle(account, lane);
                return;
            }

            call = Call(database, lane, batch.ConvertAll(queued => queued.Part));
        }

        _ = CompleteAsync(database, account, batch, call);
    }

    private async Task CompleteAsync(IDatabase database, string account, List<QueuedCheck> batch, Task<RedisResult> call)
    {
        try
        {
            var values = (RedisResult[])(await call)!;
            var offset = 0;
            foreach (var queued in batch)
            {
                var length = 2 + (4 * (int)queued.Part.Numbers[0]);
                queued.TrySetResult(values[offset..(offset + length)]);
                offset += length;
            }
        }
        catch (Exception ex)
        {
            foreach (var queued in batch)
            {
                queued.TrySetException(ex);
            }
        }
        finally
        {
            SendQueued(database, account);
        }
    }

    private Lane LaneOf(string account)
    {
        ref var lane = ref CollectionsMarshal.GetValueRefOrAddDefault(_lanes, account, out _);
        return lane ??= new Lane();
    }

    private void RemoveIfIdle(string account, Lane lane)
    {
        if (!lane.InFlight && lane.Settlements is null && lane.Queued is null)
        {
            _lanes.Remove(account);
        }
    }

    /// <summary>One account's traffic to Redis from this instance; guarded by the limiter's lock.</summary>
    private sealed class Lane
    {
        /// <summary>Settlements not sent yet: each travels with the account's next call, whose keys share its hash tag (and so its cluster slot).</summary>
        public List<RedisLimiterCall.Part>? Settlements { get; set; }

        /// <summary>Checks waiting for the call in flight to return.</summary>
        public List<QueuedCheck>? Queued { get; set; }

        public bool InFlight { get; set; }
    }

    /// <summary>A check waiting for its turn; its request continues on the thread pool, not on the thread that completes it.</summary>
    private sealed class QueuedCheck(RedisLimiterCall.Part part) : TaskCompletionSource<RedisResult[]>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public RedisLimiterCall.Part Part { get; } = part;
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

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error, Message = "Redis is unreachable for rate limiting; failure mode '{Mode}' applies until it answers again")]
    private static partial void LogUnreachable(ILogger logger, string mode, Exception? exception);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Redis answers again; rate limits are shared across replicas")]
    private static partial void LogReachable(ILogger logger);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Could not settle a rate-limit reservation in Redis")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception);
}
