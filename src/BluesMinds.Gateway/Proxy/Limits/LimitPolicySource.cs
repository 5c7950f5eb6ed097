using System.Collections.Concurrent;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// Resolves and caches each key's limits. The account's limits are the user's override, else the
/// plan's <c>rate_limits</c> row, else the plan's own columns, else the settings defaults; a key
/// row only narrows (each limit it sets applies to that key on top of the account's). The quota
/// seed is the period's usage from the daily rollups. A cached policy is served while a refresh
/// runs in the background, and kept when the database is away, so known keys keep working.
/// </summary>
internal sealed partial class LimitPolicySource(
    IServiceScopeFactory scopes, IOptions<RateLimitOptions> options, TimeProvider time, ILogger<LimitPolicySource> logger)
{
    internal static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Guid, Entry> _entries = new();

    /// <summary>The key's policy; null only when it was never loaded and the database cannot be read.</summary>
    public async ValueTask<LimitPolicy?> GetAsync(ResolvedApiKey key)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(key.KeyId, out var entry))
        {
            if (now < entry.Policy.Period.End)
            {
                if (now >= entry.RefreshAt && entry.TryStartRefresh())
                {
                    StartRefresh(key, entry);
                }

                return entry.Policy;
            }

            // A new quota period began: its counters need their own seed before anything is admitted.
            if (await LoadAsync(key) is { } loaded)
            {
                return loaded;
            }

            var carried = NewPeriod(entry.Policy, now);
            _entries[key.KeyId] = new Entry(carried, now + RetryAfterFailure);
            return carried;
        }

        return await LoadAsync(key);
    }

    /// <summary>Forgets a user's policies (plan or limits changed); the next request reloads them.</summary>
    public void InvalidateUser(Guid userId)
    {
        foreach (var (keyId, entry) in _entries)
        {
            if (entry.Policy.Account.StoreKey == LimitScope.AccountKey(userId))
            {
                _entries.TryRemove(keyId, out _);
            }
        }
    }

    public void InvalidateAll() => _entries.Clear();

    /// <summary>
    /// On the pool: SQLite answers async calls synchronously, so a refresh started here ran its four
    /// reads on the request that found the policy due, before that request went on. A method of its
    /// own, since a lambda in <see cref="GetAsync"/> would allocate its closure on every call.
    /// </summary>
    private void StartRefresh(ResolvedApiKey key, Entry entry) =>
        _ = Task.Run(() => RefreshAsync(key, entry), CancellationToken.None);

    private async Task RefreshAsync(ResolvedApiKey key, Entry entry)
    {
        if (await LoadAsync(key) is null)
        {
            entry.RefreshFailed(time.GetUtcNow() + RetryAfterFailure);
        }
    }

    private async Task<LimitPolicy?> LoadAsync(ResolvedApiKey key)
    {
        // A database read (SQLite's blocks): never on a socket thread.
        await InlineSocketIo.LeaveAsync();
        try
        {
            var policy = await ReadAsync(key);
            _entries[key.KeyId] = new Entry(policy, time.GetUtcNow() + Lifetime);
            return policy;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogLoadFailed(logger, key.KeyId, ex);
            return null;
        }
    }

    private async Task<LimitPolicy> ReadAsync(ResolvedApiKey key)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        var period = QuotaPeriod.CalendarMonth(time.GetUtcNow());
        var rows = await db.RateLimits.AsNoTracking()
            .Where(r => r.PlanId == key.PlanId || r.UserId == key.UserId || r.ApiKeyId == key.KeyId)
            .ToListAsync();
        var plan = await db.BillingPlans.AsNoTracking().SingleOrDefaultAsync(p => p.Id == key.PlanId);
        var user = rows.SingleOrDefault(r => r.UserId == key.UserId);
        var planRow = rows.SingleOrDefault(r => r.PlanId == key.PlanId);
        var keyRow = rows.SingleOrDefault(r => r.ApiKeyId == key.KeyId);
        var defaults = options.Value;

        var account = AccountLimits(user, planRow, plan, defaults);
        var keyLimits = new LimitSet(keyRow?.RequestsPerMinute ?? 0, keyRow?.TokensPerMinute ?? 0, keyRow?.ConcurrentRequests ?? 0, keyRow?.MonthlyTokenQuota ?? 0);

        var firstDay = DateOnly.FromDateTime(period.Start.UtcDateTime);
        var accountUsed = account.MonthlyTokens == 0 ? 0 : await db.UsageDaily
            .Where(u => u.UserId == key.UserId && u.Day >= firstDay)
            .SumAsync(u => u.TotalTokens);
        var keyUsed = keyLimits.MonthlyTokens == 0 ? 0 : await db.UsageDaily
            .Where(u => u.UserId == key.UserId && u.ApiKeyId == key.KeyId && u.Day >= firstDay)
            .SumAsync(u => u.TotalTokens);

        return new LimitPolicy(
            new LimitScope("account", LimitScope.AccountKey(key.UserId), account, accountUsed),
            keyLimits.IsEmpty ? null : new LimitScope("key", LimitScope.KeyKey(key.UserId, key.KeyId), keyLimits, keyUsed),
            period);
    }

    /// <summary>The account's limits: user override, else the plan's <c>rate_limits</c> row, else the plan, else the defaults.</summary>
    public static LimitSet AccountLimits(RateLimit? user, RateLimit? planRow, BillingPlan? plan, RateLimitOptions defaults) => new(
        user?.RequestsPerMinute ?? planRow?.RequestsPerMinute ?? plan?.RequestsPerMinute ?? defaults.RequestsPerMinute,
        user?.TokensPerMinute ?? planRow?.TokensPerMinute ?? plan?.TokensPerMinute ?? defaults.TokensPerMinute,
        user?.ConcurrentRequests ?? planRow?.ConcurrentRequests ?? plan?.ConcurrentRequests ?? defaults.ConcurrentRequests,
        user?.MonthlyTokenQuota ?? planRow?.MonthlyTokenQuota ?? plan?.MonthlyTokenQuota ?? 0);

    /// <summary>Reads a user's account limits (for usage pages; the hot path uses the cache).</summary>
    public static async Task<LimitSet> ReadAccountLimitsAsync(GatewayDbContext db, Guid userId, RateLimitOptions defaults, CancellationToken cancellationToken)
    {
        var planId = await db.Users.Where(u => u.Id == userId).Select(u => u.PlanId).SingleAsync(cancellationToken);
        var rows = await db.RateLimits.AsNoTracking().Where(r => r.PlanId == planId || r.UserId == userId).ToListAsync(cancellationToken);
        var plan = await db.BillingPlans.AsNoTracking().SingleOrDefaultAsync(p => p.Id == planId, cancellationToken);
        return AccountLimits(rows.SingleOrDefault(r => r.UserId == userId), rows.SingleOrDefault(r => r.PlanId == planId), plan, defaults);
    }

    private static LimitPolicy NewPeriod(LimitPolicy old, DateTimeOffset now) => old with
    {
        Account = old.Account with { QuotaUsedSeed = 0 },
        Key = old.Key is null ? null : old.Key with { QuotaUsedSeed = 0 },
        Period = QuotaPeriod.CalendarMonth(now),
    };

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Could not load the limits of API key {KeyId}; a cached policy is used where there is one")]
    private static partial void LogLoadFailed(ILogger logger, Guid keyId, Exception exception);

    private sealed class Entry(LimitPolicy policy, DateTimeOffset refreshAt)
    {
        private int _refreshing;

        public LimitPolicy Policy { get; } = policy;

        public DateTimeOffset RefreshAt { get; private set; } = refreshAt;

        public bool TryStartRefresh() => Interlocked.Exchange(ref _refreshing, 1) == 0;

        public void RefreshFailed(DateTimeOffset retryAt)
        {
            RefreshAt = retryAt;
            Volatile.Write(ref _refreshing, 0);
        }
    }
}
