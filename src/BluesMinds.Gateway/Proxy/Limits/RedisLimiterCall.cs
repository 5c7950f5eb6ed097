using System.Buffers.Binary;
using StackExchange.Redis;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The keys and arguments of one <see cref="RedisLimiterScripts.Admit"/> call: the pending
/// settlements' parts, then the check's. The numbers travel as one packed argument, which the script
/// reads without parsing text.
/// </summary>
internal static class RedisLimiterCall
{
    /// <summary>Settlements per call, well inside what the script can unpack at once.</summary>
    public const int MaxSettlements = 64;

    /// <summary>Checks per call: with <see cref="MaxSettlements"/>, under 2,000 numbers (the script unpacks at most ~8,000).</summary>
    public const int MaxChecks = 64;

    private static readonly RedisValue LeaseLifetimeMs = (long)RedisRateLimiter.LeaseLifetime.TotalMilliseconds;

    /// <summary>A settlement's or a check's keys, numbers (a check's first is its scope count) and lease id, in the script's order.</summary>
    public sealed record Part(RedisKey[] Keys, double[] Numbers, string LeaseId);

    public static Part Settlement(LimitLease lease, long refund, DateTimeOffset now)
    {
        var policy = lease.Policy;
        var scopes = policy.Key is null ? 1 : 2;
        var keys = new RedisKey[scopes * 2];
        var numbers = new double[2 + (scopes * 4)];
        (numbers[0], numbers[1]) = (refund, scopes);
        var (k, n) = (0, 2);
        foreach (var scope in Scopes(policy))
        {
            keys[k++] = StateKey(scope);
            keys[k++] = LeaseKey(scope);
            numbers[n++] = scope.Limits.TokensPerMinute;
            numbers[n++] = scope.Limits.MonthlyTokens;
            numbers[n++] = Period(policy.Period);
            numbers[n++] = StateLifetimeMs(scope, policy.Period, now);
        }

        return new Part(keys, numbers, lease.LeaseId);
    }

    public static Part Check(LimitPolicy policy, long tokens, string leaseId, bool consume, DateTimeOffset now)
    {
        var scopes = policy.Key is null ? 1 : 2;
        var keys = new RedisKey[scopes * 2];
        var numbers = new double[4 + (scopes * 6)];
        (numbers[0], numbers[1], numbers[2], numbers[3]) = (scopes, consume ? 1 : 0, tokens, Period(policy.Period));
        var (k, n) = (0, 4);
        foreach (var scope in Scopes(policy))
        {
            keys[k++] = StateKey(scope);
            keys[k++] = LeaseKey(scope);
            numbers[n++] = scope.Limits.RequestsPerMinute;
            numbers[n++] = scope.Limits.TokensPerMinute;
            numbers[n++] = scope.Limits.ConcurrentRequests;
            numbers[n++] = scope.Limits.MonthlyTokens;
            numbers[n++] = scope.QuotaUsedSeed;
            numbers[n++] = StateLifetimeMs(scope, policy.Period, now);
        }

        return new Part(keys, numbers, leaseId);
    }

    /// <summary>The call for <paramref name="count"/> settlements from <paramref name="start"/>, then <paramref name="checks"/>.</summary>
    public static (RedisKey[] Keys, RedisValue[] Args) Build(List<Part>? settlements, int start, int count, IReadOnlyList<Part> checks)
    {
        var (keyCount, numberCount) = (0, 2);
        for (var i = start; i < start + count; i++)
        {
            keyCount += settlements![i].Keys.Length;
            numberCount += settlements[i].Numbers.Length;
        }

        foreach (var check in checks)
        {
            keyCount += check.Keys.Length;
            numberCount += check.Numbers.Length;
        }

        var keys = new RedisKey[keyCount];
        var packed = new byte[numberCount * sizeof(double)];
        var args = new RedisValue[2 + count + checks.Count];
        (args[0], args[1]) = (packed, LeaseLifetimeMs);
        var (k, n, a) = (0, 0, 2);
        n = Pack([count], packed, n);
        for (var i = start; i < start + count; i++)
        {
            (k, n, a) = Add(settlements![i], keys, packed, args, k, n, a);
        }

        n = Pack([checks.Count], packed, n);
        foreach (var check in checks)
        {
            (k, n, a) = Add(check, keys, packed, args, k, n, a);
        }

        return (keys, args);
    }

    private static (int Keys, int Numbers, int Args) Add(Part part, RedisKey[] keys, byte[] packed, RedisValue[] args, int k, int n, int a)
    {
        part.Keys.CopyTo(keys, k);
        args[a] = part.LeaseId;
        return (k + part.Keys.Length, Pack(part.Numbers, packed, n), a + 1);
    }

    private static int Pack(double[] numbers, byte[] packed, int at)
    {
        foreach (var number in numbers)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(packed.AsSpan(at++ * sizeof(double)), number);
        }

        return at;
    }

    private static IEnumerable<LimitScope> Scopes(LimitPolicy policy)
    {
        yield return policy.Account;
        if (policy.Key is { } key)
        {
            yield return key;
        }
    }

    // The account's hash tag in every name keeps a user's keys in one cluster slot. (Until 2026-11
    // the buckets were a hash at ":rate" and the quota a counter at ":q:<period>"; those expire on
    // their own.)
    private static RedisKey StateKey(LimitScope scope) => "bm:rl:" + scope.StoreKey + ":s";

    private static RedisKey LeaseKey(LimitScope scope) => "bm:rl:" + scope.StoreKey + ":conc";

    /// <summary>The period as the number <c>yyyyMM</c>; never 0, which marks "no quota stored".</summary>
    private static double Period(QuotaPeriod period) => (period.Start.Year * 100) + period.Start.Month;

    /// <summary>A state outlives its month when it holds the quota, two minutes of quiet otherwise.</summary>
    private static double StateLifetimeMs(LimitScope scope, QuotaPeriod period, DateTimeOffset now) =>
        scope.Limits.MonthlyTokens > 0 ? Math.Max((long)(period.End - now).TotalMilliseconds, 0) + 86_400_000 : 120_000;
}
