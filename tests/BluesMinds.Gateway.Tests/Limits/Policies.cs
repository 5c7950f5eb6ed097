using BluesMinds.Gateway.Proxy.Limits;

namespace BluesMinds.Gateway.Tests.Limits;

/// <summary>Builds limit policies the way <see cref="LimitPolicySource"/> does, without a database.</summary>
internal static class Policies
{
    public static readonly Guid UserId = Guid.Parse("6f1c2a1e-0d4b-4e53-9a55-6a2f3f0c1b01");
    public static readonly Guid KeyId = Guid.Parse("0b7d9e44-51a3-4c1e-8d7f-2f6b9f1a9c02");
    public static readonly Guid OtherKeyId = Guid.Parse("c3a1f5d2-7e8b-4a9c-b0d1-e2f3a4b5c603");

    public static LimitScope Account(LimitSet limits, long seed = 0, Guid? userId = null) =>
        new("account", LimitScope.AccountKey(userId ?? UserId), limits, seed);

    public static LimitScope Key(LimitSet limits, long seed = 0, Guid? keyId = null, Guid? userId = null) =>
        new("key", LimitScope.KeyKey(userId ?? UserId, keyId ?? KeyId), limits, seed);

    public static LimitPolicy For(DateTimeOffset now, LimitScope account, LimitScope? key = null) =>
        new(account, key, QuotaPeriod.CalendarMonth(now));

    public static LimitSet Rpm(long requestsPerMinute) => new(requestsPerMinute, 0, 0, 0);

    public static LimitSet Tpm(long tokensPerMinute) => new(0, tokensPerMinute, 0, 0);

    public static LimitSet Concurrent(long concurrentRequests) => new(0, 0, concurrentRequests, 0);

    public static LimitSet Monthly(long monthlyTokens) => new(0, 0, 0, monthlyTokens);
}
