using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Hosting.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

/// <summary>Section <c>ApiKeys</c>.</summary>
internal sealed class ApiKeyOptions
{
    public const string Section = "ApiKeys";

    /// <summary>How long a known key's state is trusted from memory; changes made here invalidate it at once.</summary>
    public int CacheSeconds { get; set; } = 60;

    /// <summary>How long an unknown key is remembered as unknown.</summary>
    public int NegativeCacheSeconds { get; set; } = 10;

    public int MaxCachedKeys { get; set; } = 100_000;

    public int LastUsedFlushSeconds { get; set; } = 5;

    public int MaxKeysPerUser { get; set; } = 100;
}

/// <summary>
/// Resolves a presented <c>bm_</c> key for the gateway hot path. A key seen in the last
/// <see cref="ApiKeyOptions.CacheSeconds"/> is answered from memory without a database call; after
/// that one background read refreshes it while the cached state keeps answering, for at most
/// <see cref="StaleGrace"/>, so no request of a known key waits for the database and a busy key does
/// not send every concurrent request to it. Unknown keys are remembered briefly too, so a flood of bad
/// keys does not reach the database. Revocation, rotation and suspension remove entries at once
/// (<see cref="Invalidate(ReadOnlySpan{byte})"/>); expiry is checked against the clock on every call.
/// </summary>
internal sealed partial class ApiKeyLookup(
    ApiKeySecrets secrets,
    IServiceScopeFactory scopes,
    ApiKeyLastUsed lastUsed,
    IOptions<ApiKeyOptions> options,
    TimeProvider time,
    ILogger<ApiKeyLookup> logger)
{
    /// <summary>
    /// How long past its lifetime a known key's cached state may answer while it is being re-read.
    /// Past that (the database has not answered), requests wait for the database again, and fail
    /// while it is away, so a change made outside this API is never trusted away for long.
    /// </summary>
    internal static readonly TimeSpan StaleGrace = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<KeyHash, Entry> _cache = new();

    // Bumped by every invalidation: a load that started before one must not put its (possibly stale) answer in the cache.
    private long _generation;

    public async ValueTask<ApiKeyResolution> ResolveAsync(string presented, CancellationToken cancellationToken)
    {
        if (!ApiKeySecrets.HasKeyShape(presented))
        {
            return new(ApiKeyStatus.Malformed, null);
        }

        Span<byte> hash = stackalloc byte[32];
        secrets.Hash(presented, hash);
        var cacheKey = KeyHash.From(hash);
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(cacheKey, out var entry))
        {
            if (now < entry.FreshUntil)
            {
                return Evaluate(entry.Key, now.UtcDateTime);
            }

            if (entry.Key is not null && now < entry.FreshUntil + StaleGrace)
            {
                if (entry.TryStartRefresh())
                {
                    StartRefresh(cacheKey, hash.ToArray(), entry);
                }

                return Evaluate(entry.Key, now.UtcDateTime);
            }
        }

        entry = await LoadAsync(cacheKey, hash.ToArray(), now, cancellationToken);
        return Evaluate(entry.Key, now.UtcDateTime);
    }

    /// <summary>
    /// On the pool: SQLite answers async calls synchronously, which would put the read back on this
    /// request. Apart from <see cref="ResolveAsync"/>, whose locals the lambda would otherwise turn
    /// into a closure allocated on every call, refresh or not.
    /// </summary>
    private void StartRefresh(KeyHash cacheKey, byte[] hash, Entry entry) =>
        _ = Task.Run(() => RefreshAsync(cacheKey, hash, entry), CancellationToken.None);

    /// <summary>Forgets one key (revoked or rotated) on this instance.</summary>
    public void Invalidate(ReadOnlySpan<byte> keyHash)
    {
        Interlocked.Increment(ref _generation);
        _cache.TryRemove(KeyHash.From(keyHash), out _);
    }

    /// <summary>Forgets every key of a user (suspended, deleted, plan changed) on this instance.</summary>
    public void InvalidateUser(Guid userId)
    {
        Interlocked.Increment(ref _generation);
        foreach (var (hash, entry) in _cache)
        {
            if (entry.Key?.UserId == userId)
            {
                _cache.TryRemove(hash, out _);
            }
        }
    }

    private ApiKeyResolution Evaluate(ResolvedApiKey? key, DateTime now)
    {
        var status = key switch
        {
            null => ApiKeyStatus.Unknown,
            { UserStatus: UserStatuses.Deleted } => ApiKeyStatus.UserDeleted,
            { UserStatus: UserStatuses.Suspended } => ApiKeyStatus.UserSuspended,
            { Revoked: true } => ApiKeyStatus.Revoked,
            { ExpiresAt: { } expires } when expires <= now => ApiKeyStatus.Expired,
            _ => ApiKeyStatus.Active,
        };
        if (status == ApiKeyStatus.Active)
        {
            lastUsed.Record(key!.KeyId, now);
        }

        return new(status, key);
    }

    private async Task RefreshAsync(KeyHash cacheKey, byte[] hash, Entry stale)
    {
        try
        {
            await LoadAsync(cacheKey, hash, time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogRefreshFailed(logger, ex);
        }

        // Not replaced (the read failed, or an invalidation meanwhile kept its answer out): the stale
        // state keeps answering until its grace ends, and the next request tries again.
        if (_cache.TryGetValue(cacheKey, out var current) && ReferenceEquals(current, stale))
        {
            stale.RefreshFailed();
        }
    }

    private async Task<Entry> LoadAsync(KeyHash cacheKey, byte[] hash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // A database read (SQLite's blocks): never on a socket thread.
        await InlineSocketIo.LeaveAsync();
        var generation = Interlocked.Read(ref _generation);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        var row = await db.ApiKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash)
            .Select(k => new { k.Id, k.UserId, k.KeyHash, k.AllowedModels, k.ExpiresAt, k.RevokedAt, k.User!.Status, k.User.PlanId })
            .SingleOrDefaultAsync(cancellationToken);

        // The index found the row by hash; compare in constant time all the same.
        var key = row is not null && CryptographicOperations.FixedTimeEquals(row.KeyHash, hash)
            ? new ResolvedApiKey(row.Id, row.UserId, row.PlanId, row.AllowedModels, row.ExpiresAt, row.RevokedAt is not null, row.Status)
            : null;
        var ttl = TimeSpan.FromSeconds(key is null ? options.Value.NegativeCacheSeconds : options.Value.CacheSeconds);
        var entry = new Entry(key, now + ttl);

        if (_cache.Count >= options.Value.MaxCachedKeys)
        {
            // Bounded memory against a spray of random keys: start over rather than grow.
            _cache.Clear();
        }

        if (Interlocked.Read(ref _generation) == generation)
        {
            _cache[cacheKey] = entry;
        }

        return entry;
    }

    private sealed class Entry(ResolvedApiKey? key, DateTimeOffset freshUntil)
    {
        private int _refreshing;

        public ResolvedApiKey? Key { get; } = key;

        public DateTimeOffset FreshUntil { get; } = freshUntil;

        /// <summary>True for the one caller that should start the refresh.</summary>
        public bool TryStartRefresh() => Interlocked.Exchange(ref _refreshing, 1) == 0;

        /// <summary>Lets the next caller start another refresh.</summary>
        public void RefreshFailed() => Volatile.Write(ref _refreshing, 0);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Could not re-read a cached API key; its cached state answers until its grace time ends")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    /// <summary>A 32-byte hash as a value-type dictionary key: no string or array per lookup.</summary>
    private readonly record struct KeyHash(ulong A, ulong B, ulong C, ulong D)
    {
        public static KeyHash From(ReadOnlySpan<byte> hash)
        {
            var words = MemoryMarshal.Cast<byte, ulong>(hash);
            return new KeyHash(words[0], words[1], words[2], words[3]);
        }
    }
}
