using System.Collections.Frozen;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Redis;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>One model's prices in micro-dollars per million tokens.</summary>
internal readonly record struct TokenPrice(long InputMicrosPerMillion, long? CachedInputMicrosPerMillion, long OutputMicrosPerMillion);

/// <summary>
/// The per-model price table in memory, so that pricing a request costs a dictionary lookup. A
/// request is priced by the model it asked for, else by the model that served it; an unpriced
/// model costs 0.
/// </summary>
internal sealed class PriceBook(IServiceScopeFactory scopes, RedisConnection? redis = null)
{
    public const string Channel = "bluesminds:pricing:changed";

    private FrozenDictionary<string, TokenPrice> _prices = FrozenDictionary<string, TokenPrice>.Empty;

    public long CostMicros(UsageRecord record)
    {
        var prices = Volatile.Read(ref _prices);
        if ((record.ModelRequested is { } requested && prices.TryGetValue(requested, out var price)) ||
            (record.ModelServed is { } served && prices.TryGetValue(served, out price)))
        {
            return CostMicros(price, record.PromptTokens, record.CachedTokens, record.CompletionTokens);
        }

        return 0;
    }

    /// <summary>
    /// Exact: the sum is formed in micro-dollar-tokens and divided once, rounding half up, so a
    /// cost never drifts by summing rounded parts. Cached prompt tokens are part of the prompt.
    /// </summary>
    public static long CostMicros(TokenPrice price, long promptTokens, long cachedTokens, long completionTokens)
    {
        var cached = Math.Clamp(cachedTokens, 0, Math.Max(0, promptTokens));
        var numerator = ((Int128)(promptTokens - cached) * price.InputMicrosPerMillion)
            + ((Int128)cached * (price.CachedInputMicrosPerMillion ?? price.InputMicrosPerMillion))
            + ((Int128)completionTokens * price.OutputMicrosPerMillion);
        return (long)((numerator + 500_000) / 1_000_000);
    }

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        var rows = await db.ModelPrices.AsNoTracking().ToListAsync(cancellationToken);
        Volatile.Write(ref _prices, rows.ToFrozenDictionary(
            r => r.Model,
            r => new TokenPrice(r.InputMicrosPerMillion, r.CachedInputMicrosPerMillion, r.OutputMicrosPerMillion),
            StringComparer.Ordinal));
    }

    /// <summary>After an admin edit: reload here at once and tell the other instances.</summary>
    public async Task ChangedAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync(cancellationToken);
        if (redis is not null)
        {
            await redis.TryPublishAsync(Channel, "changed");
        }
    }
}

/// <summary>Loads the price table at start, on a change announced by another instance, and every minute as a backstop.</summary>
internal sealed partial class PriceBookRefreshJob(PriceBook prices, TimeProvider time, ILogger<PriceBookRefreshJob> logger, RedisConnection? redis = null)
    : AnnouncedReloadJob(time, redis)
{
    protected override string Channel => PriceBook.Channel;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(60);

    protected override Task ReloadAsync(CancellationToken cancellationToken) => prices.ReloadAsync(cancellationToken);

    protected override void OnReloadFailed(Exception exception) => LogReloadFailed(logger, exception);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Could not reload the price table; the previous one keeps pricing")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);
}
