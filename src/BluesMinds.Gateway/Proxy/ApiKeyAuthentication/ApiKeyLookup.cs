using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
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
/// <see cref="ApiKeyOptions.CacheSeconds"/> is answered from memory without a database call; unknown
/// keys are remembered briefly too, so a flood of bad keys does not reach the database. Revocation,
/// rotation and suspension remove entries at once (<see cref="Invalidate(ReadOnlySpan{byte})"/>); expiry is
/// checked against the clock on every call.
/// </summary>
internal sealed class ApiKeyLookup(
    ApiKeySecrets secrets,
    IServiceScopeFactory scopes,
    ApiKeyLastUsed lastUsed,
    IOptions<ApiKeyOptions> options,
    TimeProvider time)
{
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
        if (!_cache.TryGetValue(cacheKey, out var entry) || entry.FreshUntil <= now)
        {
            entry = await LoadAsync(cacheKey, hash.ToArray(), now, cancellationToken);
        }

        return Evaluate(entry.Key, now.UtcDateTime);
    }

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

    private async Task<Entry> LoadAsync(KeyHash cacheKey, byte[] hash, DateTimeOffset now, CancellationToken cancellationToken)
    {
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

    private sealed record Entry(ResolvedApiKey? Key, DateTimeOffset FreshUntil);

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
